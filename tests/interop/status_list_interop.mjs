// Interop with @sd-jwt/jwt-status-list 0.19.0 (the reference TypeScript implementation).
//   node status_list_interop.mjs read <jwt-file> <idx>...   -> JSON {"statuses": [...], "sub": ...}
//   node status_list_interop.mjs create <bits> <s0,s1,...>  -> JSON {"bits": n, "lst": "..."} made by the library
import { readFileSync } from 'node:fs';
import { getListFromStatusListJWT, StatusList } from '@sd-jwt/jwt-status-list';

const [mode, ...args] = process.argv.slice(2);
if (mode === 'read') {
  const jwt = readFileSync(args[0], 'utf8').trim();
  const list = getListFromStatusListJWT(jwt);
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
  const statuses = args.slice(1).map((i) => list.getStatus(Number(i)));
  console.log(JSON.stringify({ statuses, sub: payload.sub, bits: list.getBitsPerStatus() }));
} else if (mode === 'create') {
  const bits = Number(args[0]);
  const values = args[1].split(',').map(Number);
  const list = new StatusList(values, bits);
  console.log(JSON.stringify({ bits, lst: list.compressStatusList() }));
} else {
  process.exit(64);
}
