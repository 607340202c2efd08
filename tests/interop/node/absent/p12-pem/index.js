// node-tak's CLI converts .p12 files with p12-pem; the harness passes PEM files and never runs it.
export function getPemFromP12() {
    throw new Error('p12-pem is not installed: convert the .p12 file to PEM first');
}
