// A wallet built on @openid4vc/openid4vci (the OpenID4VCI client Credo uses) receiving credentials from our
// issuer through the pre-authorized code flow, then @sd-jwt/sd-jwt-vc verifying each copy; no civiccert code.
//   in:  {offer, txCode, copies, issuerJwk, statusLists: {uri: status list JWT the city published}}   (offer: the openid-credential-offer:// URL the clerk's QR holds)
//   out: {issuer, configurationId, displayJa, credentials, holderJwks (private), sdjwt: [{ok|error}]}
//        or {error, status, body} when the flow stops (the test asserts which step refused and why)
import { generateKeyPairSync, createHash, randomBytes, sign } from 'node:crypto';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { clientAuthenticationNone, setGlobalConfig } from '@openid4vc/oauth2';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';

setGlobalConfig({ allowInsecureUrls: true }); // the test server listens on http://127.0.0.1 only

const read = async () => {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
};

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

const keys = new Map(); // public jwk json -> private KeyObject

const signJwt = async (signer, { header, payload }) => {
  const publicJwk = signer.publicJwk;
  const key = keys.get(JSON.stringify(publicJwk));
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return { jwt: `${input}.${signature.toString('base64url')}`, signerJwk: publicJwk };
};

const main = async () => {
  const input = await read();
  const client = new Openid4vciClient({
    callbacks: {
      fetch,
      hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
      generateRandom: (n) => randomBytes(n),
      signJwt,
      clientAuthentication: clientAuthenticationNone({ clientId: 'civiccert-interop-wallet' }),
    },
  });
  const offer = await client.resolveCredentialOffer(input.offer);
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const configurationId = offer.credential_configuration_ids[0];
  const config = issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId];
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer, issuerMetadata, txCode: input.txCode,
  });
  const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });
  const holderJwks = [];
  const jwts = [];
  for (let i = 0; i < input.copies; i += 1) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = publicKey.export({ format: 'jwk' });
    keys.set(JSON.stringify(publicJwk), privateKey);
    holderJwks.push(privateKey.export({ format: 'jwk' }));
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata, credentialConfigurationId: configurationId, nonce,
      signer: { method: 'jwk', alg: 'ES256', publicJwk },
    });
    jwts.push(jwt);
  }
  const response = await client.retrieveCredentials({
    issuerMetadata, accessToken: accessTokenResponse.access_token, credentialConfigurationId: configurationId,
    proofs: { jwt: jwts },
  });
  const credentials = response.credentialResponse.credentials.map((c) => c.credential);
  const sdjwt = new SDJwtVcInstance({
    hasher: digest, hashAlg: 'sha-256', verifier: await ES256.getVerifier(input.issuerJwk),
    loadTypeMetadataFormat: false,
    statusListFetcher: async (uri) => {
      if (!(uri in input.statusLists)) throw new Error(`no status list published at ${uri}`);
      return input.statusLists[uri];
    },
  });
  const results = [];
  for (const credential of credentials) {
    try {
      const { payload } = await sdjwt.verify(credential);
      results.push({ ok: true, cnf: payload.cnf, vct: payload.vct });
    } catch (error) {
      results.push({ ok: false, error: String(error && error.message ? error.message : error) });
    }
  }
  const displayJa = (config.credential_metadata?.display ?? config.display ?? []).find((d) => d.locale === 'ja');
  process.stdout.write(JSON.stringify({
    issuer: offer.credential_issuer, configurationId, displayJa: displayJa?.name, credentials, holderJwks,
    sdjwt: results,
  }));
};

main().catch((error) => {
  const body = error?.response?.body ?? error?.errorResponse ?? null;
  process.stdout.write(JSON.stringify({ error: String(error?.message ?? error), body }));
});
