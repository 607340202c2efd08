// ATAK's fourteen team colours: a unit's team (its `__group` name) is drawn as a ring of that
// colour around its symbol and a swatch on the team's heading, so Cyan and Red teams no longer
// look alike on the map.

const TEAM_COLOURS: Record<string, string> = {
  white: "#ffffff",
  yellow: "#ffff00",
  orange: "#ff7700",
  magenta: "#ff00ff",
  red: "#ff0000",
  maroon: "#7f0000",
  purple: "#7f007f",
  "dark blue": "#00007f",
  blue: "#0000ff",
  cyan: "#00ffff",
  teal: "#007f7f",
  green: "#00c000",
  "dark green": "#007f00",
  brown: "#a0714f",
};

/** The colour of an ATAK team name (any case), or null for no team or a name ATAK does not have. */
export function teamColour(team: string | null): string | null {
  if (team === null) return null;
  return TEAM_COLOURS[team.trim().toLowerCase()] ?? null;
}
