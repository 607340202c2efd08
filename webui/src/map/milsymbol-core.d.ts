// Types for milsymbol's core entry (the package's `exports` hides it; Vite aliases it): the
// library without its icon sets, so the page bundles only the 2525C letter-SIDC icons it draws.
declare module "milsymbol-core" {
  import type full from "milsymbol";
  export const ms: typeof full & { addIcons(icons: unknown): void };
  export const std2525c: unknown;
}
