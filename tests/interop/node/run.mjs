// Drives node-tak and node-cot against a Rallypoint server, as tests/interop/test_node_tak*.py asks.
//
// Usage: node run.mjs PLAN.json. The plan names the server, the client's PEM files and either
// REST calls (`calls`, each `Target.method` of node-tak's TAKAPI with its arguments) or a
// streaming exchange (`stream`). One JSON document is printed on stdout: per call its value
// or its error status, and the errors of node-tak's own TypeBox schema for the answer.
// Every wait is bounded: the plan's `timeoutMs` ends the script with a JSON error.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import TAK, { TAKAPI, APIAuthCertificate, APIAuthPassword, APIAuthToken } from '@tak-ps/node-tak';
import { CoTParser, DataPackage } from '@tak-ps/node-cot';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FormatRegistry } from '@sinclair/typebox';
import { Agent, setGlobalDispatcher } from 'undici';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const pem = (path) => (path ? readFileSync(path, 'utf8') : undefined);
const timer = setTimeout(() => finish({ error: `timed out after ${plan.timeoutMs} ms` }, 1), plan.timeoutMs);

function finish(result, code = 0) {
    process.stdout.write(JSON.stringify(result) + '\n');
    clearTimeout(timer);
    process.exit(code);
}

// Arguments and answers cross the process boundary as JSON; bytes travel as {"$bytes": base64}.
// {"$result": "name", "path": "a.b"} stands for that field of an earlier call's answer (a
// mission's token), anywhere inside an argument.
function decodeArg(value, results) {
    if (Array.isArray(value)) return value.map((item) => decodeArg(item, results));
    if (!value || typeof value !== 'object') return value;
    if ('$bytes' in value) return Buffer.from(value.$bytes, 'base64');
    if ('$result' in value) {
        let found = results[value.$result]?.value;
        for (const key of (value.path || '').split('.').filter(Boolean)) found = found?.[key];
        return found;
    }
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decodeArg(item, results)]));
}

async function encodeValue(value) {
    if (value instanceof Readable || (value && typeof value.getReader === 'function')) {
        const chunks = [];
        for await (const chunk of value) chunks.push(Buffer.from(chunk));
        return { $bytes: Buffer.concat(chunks).toString('base64') };
    }
    return value === undefined ? null : value;
}

// TypeBox knows no string formats until told: node-tak's `date-time` is RFC 3339's.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
FormatRegistry.Set('date-time', (value) => RFC3339.test(value) && !Number.isNaN(Date.parse(value)));

// `schema` names an exported TypeBox schema of node-tak ("lib/api/files#Content"); with
// `schemaItems` it is checked against every element of that field of the answer instead.
async function schemaErrors(spec, value, items) {
    if (!spec) return [];
    if (items) {
        const errors = [];
        for (const item of value[items] || []) errors.push(...(await schemaErrors(spec, item)));
        return errors;
    }
    const [module, name] = spec.split('#');
    const schema = (await import(`@tak-ps/node-tak/${module}`))[name];
    if (!schema) return [`no schema ${spec}`];
    const checker = TypeCompiler.Compile(schema);
    return [...checker.Errors(value)].map((error) => `${error.path}: ${error.message}`);
}

// A data package answer is read back with node-cot's own DataPackage parser.
async function dataPackage(bytes) {
    const dir = mkdtempSync(join(tmpdir(), 'rallypoint-node-'));
    try {
        const file = join(dir, 'package.zip');
        writeFileSync(file, Buffer.from(bytes.$bytes, 'base64'));
        const pkg = await DataPackage.parse(file, { cleanup: true });
        const files = [];
        for (const name of await pkg.files()) files.push(name);
        const result = { settings: pkg.settings, contents: pkg.contents, files };
        await pkg.destroy();
        return result;
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

function auth() {
    if (plan.auth === 'password') return new APIAuthPassword(plan.username, plan.password);
    if (plan.auth === 'token') return new APIAuthToken(plan.token);
    return new APIAuthCertificate(pem(plan.cert), pem(plan.key));
}

async function runCalls() {
    if (plan.cert && plan.auth !== 'certificate') {
        // Password and token clients use undici's fetch; on a mutual-TLS port it presents the
        // same client certificate, as a CloudTAK deployment's agent would.
        setGlobalDispatcher(new Agent({ connect: { cert: pem(plan.cert), key: pem(plan.key), ca: pem(plan.ca) } }));
    }
    const api = await TAKAPI.init(new URL(plan.api), auth());
    const results = {};
    for (const call of plan.calls) {
        const [target, method] = call.call.split('.');
        try {
            let value;
            if (call.call === 'fetch') {
                // node-tak's own request path, raw: for answers its typed methods read as text (zips).
                // With `json`, the answer is parsed as the typed methods would (for the methods
                // node-tak 12 cannot send itself: they pass no `method` to its fetch).
                const res = await api.fetch(call.path, { method: call.method || 'GET' }, true);
                if (call.json && res.status >= 400) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
                value = call.json ? await res.json() : { status: res.status, body: await encodeValue(res.body) };
            } else {
                value = await encodeValue(await api[target][method](...(call.args || []).map((arg) => decodeArg(arg, results))));
            }
            const entry = { ok: true, value, schemaErrors: await schemaErrors(call.schema, value, call.schemaItems) };
            if (call.dataPackage) entry.dataPackage = await dataPackage(value.body);
            results[call.name] = entry;
        } catch (err) {
            results[call.name] = { ok: false, status: err.status ?? null, message: String(err.message ?? err) };
        }
    }
    const token = api.auth.jwt || null; // what APIAuthPassword obtained from /oauth/token
    return { calls: results, token, claims: token ? api.OAuth.parse(token) : null };
}

function connect(url, who) {
    return new Promise((resolve, reject) => {
        TAK.connect(new URL(url), { cert: pem(who.cert), key: pem(who.key), ca: pem(plan.ca) }).then((tak) => {
            tak.once('ping', () => resolve(tak)); // the server's pong: the session is up
            tak.once('error', reject);
        }, reject);
    });
}

async function runStream() {
    const { url, sender, receiver, feature } = plan.stream;
    const [tx, rx] = [await connect(url, sender), await connect(url, receiver)];
    const received = new Promise((resolve) => {
        rx.on('cot', (cot) => {
            if (cot.uid() === feature.id) resolve(cot);
        });
    });
    await tx.write([await CoTParser.from_geojson(feature)]);
    const cot = await received;
    const geojson = await CoTParser.to_geojson(cot);
    tx.destroy();
    rx.destroy();
    return { received: geojson, version: rx.version ?? null };
}

try {
    finish(plan.stream ? await runStream() : await runCalls());
} catch (err) {
    // A plan may expect the client to fail (a refused login): its error is then the answer.
    finish({ error: String(err.stack ?? err) }, plan.expectFailure ? 0 : 1);
}
