// A wallet built on @openid4vc/openid4vp (the OpenID4VP client Credo uses), dcql (the DCQL implementation
// Credo uses) and @sd-jwt/sd-jwt-vc presenting a civiccert SD-JWT VC to our verifier; no civiccert code.
//   in:  {requestUrl, credential, holderJwk (private), submitUnsatisfied?}
//        requestUrl: the openid4vp:// link our verifier's QR holds (by value or by reference)
//   out: {request: {clientId, clientPrefix, responseUri, nonce, version, jar}, dcql: {satisfiable, claims},
//         presented: [disclosed claim names], submitted: {status, body}}
//        or {error, stage, body} when a step refuses (the test asserts which step and why)
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { Openid4vpClient } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/oauth2';
import { DcqlQuery } from 'dcql';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';

setGlobalConfig({ allowInsecureUrls: true }); // the test server listens on http://127.0.0.1 only

const read = async () => {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
};

class Stop extends Error {
  constructor(stage, error, body) {
    super(String(error?.message ?? error));
    this.stage = stage;
    this.body = body ?? error?.errorResponse ?? null;
  }
}

const step = async (stage, fn) => {
  try {
    return await fn();
  } catch (error) {
    throw error instanceof Stop ? error : new Stop(stage, error);
  }
};

// @sd-jwt 0.19.0 keys a presentation frame's array indices by the position in the issued (digest) array,
// decoys and all, while its decoded claims count only real elements: so a DCQL path such as
// ["members", 0, "name"] is translated to raw positions by walking the payload with the disclosures.
const disclosuresOf = (credential) => {
  const map = new Map();
  for (const d of credential.split('~').slice(1).filter(Boolean)) {
    map.set(createHash('sha256').update(d).digest('base64url'), JSON.parse(Buffer.from(d, 'base64url')));
  }
  return map;
};

const rawPaths = (node, path, map, prefix = []) => {
  if (path.length === 0) return [prefix];
  const [head, ...rest] = path;
  if (Array.isArray(node)) {
    const real = [];
    node.forEach((item, position) => {
      const hash = item && typeof item === 'object' ? item['...'] : undefined;
      if (hash === undefined) real.push([position, item]);
      else if (map.has(hash)) real.push([position, map.get(hash)[1]]);
    });
    const chosen = head === null ? real : typeof head === 'number' && real[head] ? [real[head]] : [];
    return chosen.flatMap(([position, value]) => rawPaths(value, rest, map, [...prefix, position]));
  }
  if (typeof head !== 'string' || !node || typeof node !== 'object') return [];
  let value = node[head];
  if (value === undefined) {
    const disclosed = (node._sd ?? []).map((h) => map.get(h)).find((d) => d && d[1] === head);
    value = disclosed?.[2];
    if (!disclosed) return [];
  }
  return rawPaths(value, rest, map, [...prefix, head]);
};

const frameFor = (credential, paths) => {
  const payload = JSON.parse(Buffer.from(credential.split('~')[0].split('.')[1], 'base64url'));
  const map = disclosuresOf(credential);
  const frame = {};
  for (const path of paths) {
    for (const raw of rawPaths(payload, path, map)) {
      let node = frame;
      raw.forEach((key, i) => {
        if (i === raw.length - 1) node[key] = true;
        else node = node[key] = typeof node[key] === 'object' ? node[key] : {};
      });
    }
  }
  return frame;
};

const kbSignerFor = (jwk) => {
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  return (data) => sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
};

const main = async () => {
  const input = await read();
  const client = new Openid4vpClient({
    callbacks: {
      fetch,
      hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
      verifyJwt: async () => ({ verified: false }), // no signed request is expected (redirect_uri: prefix)
    },
  });
  const parsed = await step('parse', () => client.parseOpenid4vpAuthorizationRequest({
    authorizationRequest: input.requestUrl,
  }));
  const resolved = await step('resolve', () => client.resolveOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: parsed.params,
  }));
  const request = resolved.authorizationRequestPayload;
  const query = await step('dcql', () => {
    const q = DcqlQuery.parse(resolved.dcql?.query);
    DcqlQuery.validate(q);
    return q;
  });

  const sdjwt = new SDJwtVcInstance({
    hasher: digest, hashAlg: 'sha-256', kbSigner: kbSignerFor(input.holderJwk), kbSignAlg: 'ES256',
    loadTypeMetadataFormat: false,
  });
  const claims = await step('decode', () => sdjwt.getClaims(input.credential));
  const credentialQuery = query.credentials[0];
  const match = DcqlQuery.query(query, [{
    credential_format: 'dc+sd-jwt', vct: claims.vct, claims, cryptographic_holder_binding: true,
  }]);
  const out = {
    request: {
      clientId: request.client_id, clientPrefix: resolved.client.prefix, responseUri: request.response_uri,
      responseMode: request.response_mode, nonce: request.nonce, version: resolved.version,
      jar: resolved.jar ? resolved.jar.sendBy : null,
    },
    dcql: { satisfiable: match.can_be_satisfied, queryId: credentialQuery.id, claims: credentialQuery.claims },
  };
  if (!match.can_be_satisfied && !input.submitUnsatisfied) {
    // OpenID4VP 1.0 §8.5: the wallet answers the response_uri with an error instead of a vp_token.
    const response = await fetch(request.response_uri, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ error: 'access_denied', state: request.state }).toString(),
    });
    out.submitted = { status: response.status, body: await response.json().catch(() => null), error: 'access_denied' };
    return out;
  }

  const frame = frameFor(input.credential, credentialQuery.claims.map((c) => c.path));
  const presentation = await step('present', () => sdjwt.present(input.credential, frame, {
    kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: request.client_id, nonce: request.nonce } },
  }));
  out.presented = Object.keys(await sdjwt.getClaims(presentation)).sort();
  const { authorizationResponsePayload } = await step('respond', () => client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: { vp_token: { [credentialQuery.id]: [presentation] } },
  }));
  const { response, responseMode } = await step('submit', () => client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request, authorizationResponsePayload,
  }));
  out.submitted = { status: response.status, responseMode, body: await response.json().catch(() => null) };
  return out;
};

main().then(
  (out) => process.stdout.write(JSON.stringify(out)),
  (error) => process.stdout.write(JSON.stringify({
    error: String(error?.message ?? error), stage: error?.stage ?? 'unknown', body: error?.body ?? null,
  })),
);
