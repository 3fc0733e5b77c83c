// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/**
 * @title CivicRegistry
 * @dev Anchors the Merkle roots of credential batches issued by Japanese municipalities, records which
 * signing keys each municipality holds over time, and records credential revocations.
 *
 * Invariants (each is tested against every external function):
 *
 * 0. A municipality's anchors, revocations and signing keys live in its own namespace; no other account can
 *    write there. Roots, credential hashes and key thumbprints are keyed by (municipality, hash), so another
 *    municipality anchoring, revoking or registering the same hash (e.g. copying a public JWK or a root from
 *    the mempool and front-running it) writes only into its own namespace; verifiers of a municipality read
 *    only that municipality's entries.
 * 1. An anchored root never changes: `anchor` writes a (municipality, root) slot once and nothing else
 *    writes it.
 * 2. A revocation is never undone or overwritten: a credential revocation is written once (a repeat is
 *    a no-op) and a key's `revokedAt` is written once.
 * 3. Only an operator of a registered municipality writes, and only in its own municipality's namespace
 *    (its operators, keys, certificates, anchors, revocations). While the municipality is suspended its
 *    operators can still revoke (credentials with {revoke} and {revokeMany}, keys with {revokeKey}) and remove
 *    operators, so a compromise can be contained during a suspension and nothing comes back to life on
 *    unsuspension; anchoring, adding operators, registering, certifying and retiring keys wait for unsuspension.
 * 4. A key is never valid more than `MAX_KEY_BACKDATE` (400 days) before the block that registered it: a city
 *    that issued before going on chain registers the key's real start of use, so its earlier credentials verify
 *    offline too; an earlier `validFrom` reverts. A registered key's `validFrom` is never 0.
 * 5. A certificate record never changes: `(municipality, certHash) -> key` is written once, only by an operator
 *    of that municipality, only for a key registered in its namespace.
 *
 * The registry is a transparency log, not a trust root. Every certified key's certificate (the SHA-256 of the
 * DER of its leaf, a 職責証明書) is recorded with the key ({CertificateRecorded}). A verifier with X.509 trust
 * anchors accepts a key for a city only when this registry lists it in that city's namespace AND the credential's
 * `x5c` chain leads to a trust anchor, names that city, certifies that key, and its leaf's SHA-256 is recorded
 * here for that key (docs/trust.md). The contract cannot check the certificate itself (no P-256 / X.509
 * verification on the target EVMs), so a record here is a claim that verifiers check against the certificate.
 *
 * Municipalities are identified by their 地方公共団体コード (6 digits with check digit, e.g. 122076).
 * An operator account acts for exactly one municipality.
 *
 * Powers of the admin (the deployer, transferable in two steps), and nothing else:
 * - {registerMunicipality}: register a code not registered yet, with its first operator;
 * - {suspendMunicipality} / {unsuspendMunicipality}: stop (and resume) a municipality's anchoring and key
 *   management; revocations stay possible and nothing already recorded changes;
 * - {transferAdmin}: hand these powers on.
 * The admin never adds or removes operators of a registered municipality, never registers, retires, revokes or
 * certifies a key, and never anchors or revokes: those are the municipality's own operators' (each acts only in
 * its own namespace). An admin who registers a code for itself gets a namespace whose keys no certificate
 * vouches for, which a verifier with trust anchors refuses.
 *
 * All state is private and read through views. Every state change emits one past-tense event.
 */
contract CivicRegistry {
    // ---------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------

    /// @dev One slot. `municipality == 0` means "not an operator". `suspended` mirrors the
    /// municipality's flag so that the hot paths (anchor, revoke) need a single storage read.
    struct Operator {
        uint32 municipality;
        bool suspended;
    }

    struct Municipality {
        uint64 registeredAt;
        bool suspended;
        address[] operators;
    }

    /// @dev One slot per (municipality, key). `validFrom == 0` means "not registered in this namespace":
    /// {registerKey} requires `validFrom >= _earliestStart() >= 1`, so a registered key's `validFrom` is never 0.
    struct Key {
        uint64 validFrom;
        uint64 retiredAt;
        uint64 revokedAt;
    }

    /// @dev One slot per (municipality, root). `leafCount == 0` means "not anchored" ({anchor} requires a
    /// non-zero leaf count).
    struct Anchor {
        uint64 timestamp;
        uint64 blockNumber;
        uint32 leafCount;
    }

    /// @dev One slot. `revokedAt == 0` means "not revoked" (reason 0 is a valid reason: unspecified).
    struct Revocation {
        uint8 reason;
        uint64 revokedAt;
    }

    /// @dev How far before its registration block a key may start being valid (invariant 4): a year and a
    /// month, covering a 職責証明書 issued and used before the city went on chain.
    uint64 public constant MAX_KEY_BACKDATE = 400 days;

    /// @dev Block of the deployment, where log scans for municipalities and keys start.
    uint256 private immutable _deployedBlock;

    address private _admin;
    address private _pendingAdmin;
    mapping(address account => Operator) private _operators;
    mapping(uint32 code => Municipality) private _municipalities;
    /// @dev One namespace per municipality (invariant 0): the same thumbprint may be registered by two.
    mapping(uint32 municipality => mapping(bytes32 thumbprint => Key)) private _keys;
    /// @dev One namespace per municipality (invariant 0): SHA-256 of a leaf certificate's DER -> the key it
    /// certifies (zero: not recorded). Written once (invariant 5).
    mapping(uint32 municipality => mapping(bytes32 certHash => bytes32 key)) private _certificates;
    /// @dev One namespace per municipality (invariant 0).
    mapping(uint32 municipality => mapping(bytes32 root => Anchor)) private _anchors;
    /// @dev One namespace per municipality (invariant 0).
    mapping(uint32 municipality => mapping(bytes32 credentialHash => Revocation)) private _revocations;
    /// @dev The latest status-list publication of each municipality: SHA-256 of its manifest (one slot).
    mapping(uint32 municipality => bytes32 root) private _statusListsRoots;

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    /// @dev `newAdmin` was proposed by the admin and must call {acceptAdmin}.
    event AdminTransferStarted(address indexed previousAdmin, address indexed newAdmin);
    /// @dev The admin changed (also emitted by the constructor with `previousAdmin == 0`).
    event AdminTransferred(address indexed previousAdmin, address indexed newAdmin);
    event MunicipalityRegistered(uint32 indexed municipality);
    event MunicipalitySuspended(uint32 indexed municipality);
    event MunicipalityUnsuspended(uint32 indexed municipality);
    event OperatorAdded(uint32 indexed municipality, address indexed operator);
    event OperatorRemoved(uint32 indexed municipality, address indexed operator);
    /// @dev `jwk` is the key's public JWK in RFC 7638 canonical form; `sha256(jwk) == key`. It is only logged:
    /// verifiers read it from this event (filtered by `municipality` and `key`: another municipality may log
    /// the same key in its own namespace), the contract never needs it again.
    event KeyRegistered(uint32 indexed municipality, bytes32 indexed key, uint64 validFrom, bytes jwk);
    /// @dev `certHash` (SHA-256 of a leaf certificate's DER) certifies `key` of `municipality`. A key has one
    /// record per certificate (a renewed 職責証明書 for the same key is another record).
    event CertificateRecorded(uint32 indexed municipality, bytes32 indexed key, bytes32 indexed certHash);
    event KeyRetired(uint32 indexed municipality, bytes32 indexed key, uint64 retiredAt);
    event KeyRevoked(uint32 indexed municipality, bytes32 indexed key, uint64 revokedAt);
    /// @dev OpenAttestation DocumentStore shape: only the root, as topic (docs/gas.md). The municipality is
    /// the caller's ({operatorOf} the caller at that block); the leaf count is read with {anchorOf}. Several
    /// municipalities may log the same root: a log is a pointer, the namespace in storage is the record.
    event BatchAnchored(bytes32 indexed root);
    /// @dev Only the hash, as topic (like {BatchAnchored}): the municipality is the caller's, the reason is
    /// read with {revocationOf}; neither ever changes (invariant 2).
    event CredentialRevoked(bytes32 indexed credentialHash);
    /// @dev One event for a {revokeMany} call, listing only the hashes that were newly revoked.
    event CredentialsRevoked(uint32 indexed municipality, uint8 reason, bytes32[] credentialHashes);
    /// @dev A municipality published its status lists; `root` is the SHA-256 of the publication's manifest,
    /// which lists the hash of every list token. Earlier roots stay readable only from these events.
    event StatusListsPublished(uint32 indexed municipality, bytes32 indexed root);

    // ---------------------------------------------------------------------------------------------
    // Errors (EIP-6093 style: component prefix, diagnostic arguments)
    // ---------------------------------------------------------------------------------------------

    /// @dev `account` is not the admin.
    error RegistryUnauthorizedAdmin(address account);
    /// @dev `account` is not the pending admin and cannot accept the admin role.
    error RegistryUnauthorizedPendingAdmin(address account);
    /// @dev `account` is not an operator of any municipality.
    error RegistryUnauthorizedOperator(address account);
    /// @dev The operator's municipality is suspended by the admin (revocations are still allowed).
    error RegistryMunicipalitySuspended(uint32 municipality);
    /// @dev `municipality` is not a 6-digit 地方公共団体コード (0 or above 999999).
    error RegistryInvalidMunicipality(uint32 municipality);
    error RegistryMunicipalityAlreadyRegistered(uint32 municipality);
    error RegistryUnknownMunicipality(uint32 municipality);
    /// @dev The zero address cannot be an operator or the admin.
    error RegistryInvalidAccount(address account);
    /// @dev `account` already acts for `municipality`; an account acts for exactly one municipality.
    error RegistryOperatorAlreadyAssigned(address account, uint32 municipality);
    error RegistryUnknownOperator(address account);
    /// @dev A zero root.
    error RegistryInvalidHash(bytes32 value);
    /// @dev `key` is not the SHA-256 of the given JWK bytes, i.e. not their RFC 7638 thumbprint.
    error RegistryKeyMismatch(bytes32 key);
    /// @dev `key` is already registered in `municipality`'s (the caller's) namespace.
    error RegistryKeyAlreadyRegistered(bytes32 key, uint32 municipality);
    /// @dev `key` is not registered in the caller's municipality's namespace (whoever else registered it).
    error RegistryUnknownKey(bytes32 key);
    error RegistryKeyAlreadyRetired(bytes32 key, uint64 retiredAt);
    error RegistryKeyAlreadyRevoked(bytes32 key, uint64 revokedAt);
    /// @dev A key revocation time earlier than the key's `validFrom`.
    error RegistryInvalidKeyTime(bytes32 key, uint64 at);
    /// @dev `validFrom` lies more than `MAX_KEY_BACKDATE` before the block time; `earliest` is the limit.
    error RegistryKeyStartTooEarly(bytes32 key, uint64 validFrom, uint64 earliest);
    /// @dev `certHash` is already recorded in the caller's municipality, for `key` (invariant 5).
    error RegistryCertificateAlreadyRecorded(bytes32 certHash, bytes32 key);
    /// @dev Removing `operator` would leave `municipality` without operators (nobody could add one again).
    error RegistryLastOperator(uint32 municipality, address operator);
    /// @dev An anchored batch must contain at least one leaf.
    error RegistryInvalidLeafCount(uint32 leafCount);
    /// @dev `root` is already anchored in the caller's municipality; an anchored root never changes.
    error RegistryRootAlreadyAnchored(bytes32 root);

    // ---------------------------------------------------------------------------------------------
    // Modifiers and constructor
    // ---------------------------------------------------------------------------------------------

    modifier onlyAdmin() {
        if (msg.sender != _admin) revert RegistryUnauthorizedAdmin(msg.sender);
        _;
    }

    constructor() {
        _deployedBlock = block.number;
        _admin = msg.sender;
        emit AdminTransferred(address(0), msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Governance (admin)
    // ---------------------------------------------------------------------------------------------

    /**
     * @dev Starts a two-step admin transfer; `newAdmin` completes it with {acceptAdmin}.
     *
     * Requirements: caller is the admin; `newAdmin` is not the zero address.
     *
     * Emits an {AdminTransferStarted} event.
     */
    function transferAdmin(address newAdmin) external onlyAdmin {
        if (newAdmin == address(0)) revert RegistryInvalidAccount(newAdmin);
        _pendingAdmin = newAdmin;
        emit AdminTransferStarted(msg.sender, newAdmin);
    }

    /// @dev Completes a transfer started by {transferAdmin}. Emits an {AdminTransferred} event.
    function acceptAdmin() external {
        if (msg.sender != _pendingAdmin) revert RegistryUnauthorizedPendingAdmin(msg.sender);
        address previous = _admin;
        _admin = msg.sender;
        delete _pendingAdmin;
        emit AdminTransferred(previous, msg.sender);
    }

    /**
     * @dev Registers municipality `code` with its first operator account.
     *
     * Requirements: caller is the admin; `code` is 1..999999 and not registered; `operator` is not
     * zero and does not act for a municipality yet.
     *
     * Emits {MunicipalityRegistered} and {OperatorAdded} events.
     */
    function registerMunicipality(uint32 code, address operator) external onlyAdmin {
        if (code == 0 || code > 999_999) revert RegistryInvalidMunicipality(code);
        Municipality storage m = _municipalities[code];
        if (m.registeredAt != 0) revert RegistryMunicipalityAlreadyRegistered(code);
        m.registeredAt = uint64(block.timestamp);
        emit MunicipalityRegistered(code);
        _addOperator(code, m, operator);
    }

    /**
     * @dev Suspends municipality `code`: its operators can no longer anchor, add operators or manage keys
     * (they can still revoke and remove operators, to contain a compromise). Anchors, revocations, keys and
     * certificates already recorded stay as they are. A no-op when already suspended.
     *
     * May emit a {MunicipalitySuspended} event.
     */
    function suspendMunicipality(uint32 code) external onlyAdmin {
        _setSuspended(code, true);
    }

    /// @dev Lifts a suspension. A no-op when not suspended. May emit a {MunicipalityUnsuspended} event.
    function unsuspendMunicipality(uint32 code) external onlyAdmin {
        _setSuspended(code, false);
    }

    // ---------------------------------------------------------------------------------------------
    // Operators (operator, own municipality only)
    // ---------------------------------------------------------------------------------------------

    /**
     * @dev Adds `operator` to the caller's municipality (e.g. a second office, or a new account before the
     * old one is removed). The admin cannot do this: only a municipality grows its own set of operators.
     *
     * Requirements: the caller's municipality is not suspended; `operator` is not zero and does not act for a
     * municipality yet.
     *
     * Emits an {OperatorAdded} event.
     */
    function addOperator(address operator) external {
        uint32 code = _activeMunicipality();
        _addOperator(code, _municipalities[code], operator);
    }

    /**
     * @dev Removes `operator` (possibly the caller) from the caller's municipality. Allowed while suspended, like
     * revocations: a leaked operator account must be removable at once.
     *
     * Requirements: `operator` acts for the caller's municipality and is not its last operator.
     *
     * Emits an {OperatorRemoved} event.
     */
    function removeOperator(address operator) external {
        uint32 code = _operatorMunicipality();
        if (_operators[operator].municipality != code) revert RegistryUnknownOperator(operator);
        address[] storage list = _municipalities[code].operators;
        uint256 last = list.length - 1; // cannot underflow: `operator` is in the list
        if (last == 0) revert RegistryLastOperator(code, operator);
        delete _operators[operator];
        for (uint256 i = 0; i <= last; ++i) {
            if (list[i] == operator) {
                list[i] = list[last];
                list.pop();
                break;
            }
        }
        emit OperatorRemoved(code, operator);
    }

    // ---------------------------------------------------------------------------------------------
    // Keys and certificates (operator)
    // ---------------------------------------------------------------------------------------------

    /**
     * @dev Registers signing key `key` (RFC 7638 thumbprint) in the caller's municipality's namespace and
     * publishes its public key: `jwk` is the thumbprint input, the JWK's required members in canonical form
     * (UTF-8, sorted, no whitespace), e.g. `{"crv":"P-256","kty":"EC","x":"…","y":"…"}`. Binding it to `key` here
     * means a published public key can never disagree with its thumbprint (nor can `key` be zero).
     * `validFrom` is the key's real start of use: it may lie up to `MAX_KEY_BACKDATE` in the past (invariant 4),
     * so credentials issued before the registration verify against a snapshot too. `certHash` is the SHA-256 of
     * the DER of the leaf certificate that certifies the key (zero for an uncertified development key, which
     * verifiers with trust anchors refuse); it is recorded as by {recordCertificate}.
     *
     * The same key registered by another municipality (its public JWK is public) is another record and
     * does not stop this one (invariant 0).
     *
     * Requirements: the caller's municipality is not suspended; `sha256(jwk) == key`; `key` is not
     * registered yet in the caller's municipality; `validFrom` is not before `block.timestamp -
     * MAX_KEY_BACKDATE`; a non-zero `certHash` is not recorded yet in the caller's municipality.
     *
     * Emits a {KeyRegistered} event carrying `jwk`, and a {CertificateRecorded} event when `certHash` is set.
     */
    function registerKey(bytes32 key, uint64 validFrom, bytes calldata jwk, bytes32 certHash) external {
        uint32 code = _activeMunicipality();
        if (sha256(jwk) != key) revert RegistryKeyMismatch(key);
        Key storage k = _keys[code][key];
        if (k.validFrom != 0) revert RegistryKeyAlreadyRegistered(key, code);
        uint64 earliest = _earliestStart();
        if (validFrom < earliest) revert RegistryKeyStartTooEarly(key, validFrom, earliest);
        k.validFrom = validFrom;
        emit KeyRegistered(code, key, validFrom, jwk);
        if (certHash != bytes32(0)) _recordCertificate(code, key, certHash);
    }

    /**
     * @dev Records that the leaf certificate with SHA-256 `certHash` certifies `key`, e.g. a renewed 職責証明書
     * for a key already registered. Every certificate a verifier should accept for the key must be recorded:
     * credentials keep the leaf they were signed under, so a renewal adds a record and never replaces one.
     *
     * Requirements: the caller's municipality is not suspended; `key` is registered in its namespace and not
     * revoked; `certHash` is not zero and not recorded yet in its namespace (invariant 5).
     *
     * Emits a {CertificateRecorded} event.
     */
    function recordCertificate(bytes32 key, bytes32 certHash) external {
        uint32 code = _activeMunicipality();
        Key storage k = _ownKey(code, key);
        if (k.revokedAt != 0) revert RegistryKeyAlreadyRevoked(key, k.revokedAt);
        if (certHash == bytes32(0)) revert RegistryInvalidHash(certHash);
        _recordCertificate(code, key, certHash);
    }

    /**
     * @dev Retires `key` (normal rotation) from time `at`; `at` earlier than the current block time is
     * raised to it, so retirement never invalidates past signatures (that is what {revokeKey} is for).
     *
     * Requirements: the caller's municipality is not suspended; the key is registered in its namespace and
     * is neither retired nor revoked.
     *
     * Emits a {KeyRetired} event.
     */
    function retireKey(bytes32 key, uint64 at) external {
        uint32 code = _activeMunicipality();
        Key storage k = _ownKey(code, key);
        if (k.retiredAt != 0) revert RegistryKeyAlreadyRetired(key, k.retiredAt);
        if (k.revokedAt != 0) revert RegistryKeyAlreadyRevoked(key, k.revokedAt);
        uint64 when = at < block.timestamp ? uint64(block.timestamp) : at;
        k.retiredAt = when;
        emit KeyRetired(code, key, when);
    }

    /**
     * @dev Revokes `key` after a compromise, effective from `at`, which may lie in the past (signatures
     * made from then on are invalid) but not before the key's `validFrom`; `at` later than the current
     * block time is lowered to it. A key can be revoked after it was retired.
     *
     * Allowed while the caller's municipality is suspended (invariant 3): a key compromised during a
     * suspension must not sign valid credentials again once the suspension ends.
     *
     * Requirements: the key is registered in the caller's municipality's namespace and not revoked yet.
     *
     * Emits a {KeyRevoked} event.
     */
    function revokeKey(bytes32 key, uint64 at) external {
        uint32 code = _operatorMunicipality();
        Key storage k = _ownKey(code, key);
        if (k.revokedAt != 0) revert RegistryKeyAlreadyRevoked(key, k.revokedAt);
        uint64 when = at > block.timestamp ? uint64(block.timestamp) : at;
        if (when < k.validFrom) revert RegistryInvalidKeyTime(key, at);
        k.revokedAt = when;
        emit KeyRevoked(code, key, when);
    }

    // ---------------------------------------------------------------------------------------------
    // Anchors and revocations (operator)
    // ---------------------------------------------------------------------------------------------

    /**
     * @dev Anchors the Merkle root of a batch of `leafCount` credentials in the caller's municipality's
     * namespace. The same root anchored by another municipality is another record (invariant 0).
     *
     * Requirements: the caller's municipality is not suspended; `root` is not zero and not anchored yet in
     * the caller's municipality (invariant 1); `leafCount` is not zero.
     *
     * Emits a {BatchAnchored} event.
     */
    function anchor(bytes32 root, uint32 leafCount) external {
        uint32 code = _activeMunicipality();
        if (root == bytes32(0)) revert RegistryInvalidHash(root);
        if (leafCount == 0) revert RegistryInvalidLeafCount(leafCount);
        Anchor storage a = _anchors[code][root];
        if (a.leafCount != 0) revert RegistryRootAlreadyAnchored(root);
        // One SSTORE of the packed Anchor (timestamp | blockNumber << 64 | leafCount << 128); the
        // field-by-field form costs a read-modify-write per field.
        assembly ("memory-safe") {
            sstore(a.slot, or(or(timestamp(), shl(64, number())), shl(128, leafCount)))
        }
        emit BatchAnchored(root);
    }

    /**
     * @dev Revokes one credential in the caller's municipality's namespace. Revoking an already revoked
     * credential is a no-op that emits nothing: the first reason and time stay (invariant 2), and a
     * retried call is harmless. Allowed while the caller's municipality is suspended (invariant 3).
     *
     * May emit a {CredentialRevoked} event.
     */
    function revoke(bytes32 credentialHash, uint8 reason) external {
        uint32 code = _operatorMunicipality();
        Revocation storage r = _revocations[code][credentialHash];
        if (r.revokedAt != 0) return;
        _writeRevocation(r, reason);
        emit CredentialRevoked(credentialHash);
    }

    /**
     * @dev Revokes many credentials with one reason; already revoked ones are skipped (see {revoke}).
     * One event lists the newly revoked hashes (per-item events would cost ~1,500 gas more each).
     * Allowed while the caller's municipality is suspended (invariant 3).
     *
     * May emit a {CredentialsRevoked} event.
     */
    function revokeMany(bytes32[] calldata credentialHashes, uint8 reason) external {
        uint32 code = _operatorMunicipality();
        bytes32[] memory revoked = new bytes32[](credentialHashes.length);
        uint256 count = 0;
        for (uint256 i = 0; i < credentialHashes.length; ++i) {
            bytes32 h = credentialHashes[i];
            Revocation storage r = _revocations[code][h];
            if (r.revokedAt != 0) continue;
            _writeRevocation(r, reason);
            revoked[count] = h;
            unchecked {
                ++count; // cannot overflow: count <= i < credentialHashes.length
            }
        }
        if (count == 0) return;
        assembly ("memory-safe") {
            mstore(revoked, count) // shrink to the newly revoked prefix; count <= allocated length
        }
        emit CredentialsRevoked(code, reason, revoked);
    }

    /**
     * @dev Records `root` (SHA-256 of a status-list publication manifest) as the caller's municipality's
     * latest publication: one slot and one event, whatever the number of lists or status changes in it.
     * Allowed while the municipality is suspended, like revocations (invariant 3).
     *
     * Emits a {StatusListsPublished} event.
     */
    function publishStatusLists(bytes32 root) external {
        uint32 code = _operatorMunicipality();
        if (root == bytes32(0)) revert RegistryInvalidHash(root);
        _statusListsRoots[code] = root;
        emit StatusListsPublished(code, root);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @dev The latest status-list publication root of `municipality` (zero when it never published).
    function statusListsRoot(uint32 municipality) external view returns (bytes32) {
        return _statusListsRoots[municipality];
    }

    function admin() external view returns (address) {
        return _admin;
    }

    function pendingAdmin() external view returns (address) {
        return _pendingAdmin;
    }

    /// @dev The block in which the registry was deployed (start of log scans).
    function deployedBlock() external view returns (uint256) {
        return _deployedBlock;
    }

    /// @dev The municipality `account` acts for, 0 when none.
    function operatorOf(address account) external view returns (uint32) {
        return _operators[account].municipality;
    }

    /// @dev `registeredAt == 0` means the municipality is not registered.
    function municipalityInfo(
        uint32 code
    ) external view returns (uint64 registeredAt, bool suspended, address[] memory operators) {
        Municipality storage m = _municipalities[code];
        return (m.registeredAt, m.suspended, m.operators);
    }

    /// @dev `key` in `municipality`'s namespace; `validFrom == 0` (all zero) means not registered there,
    /// whoever else registered it.
    function keyInfo(
        uint32 municipality,
        bytes32 key
    ) external view returns (uint64 validFrom, uint64 retiredAt, uint64 revokedAt) {
        Key storage k = _keys[municipality][key];
        return (k.validFrom, k.retiredAt, k.revokedAt);
    }

    /**
     * @dev Whether `key` of `municipality` was valid at time `t`: registered in that municipality's
     * namespace, `validFrom <= t`, and `t` before its retirement and before its revocation (when set).
     */
    function isKeyValidAt(uint32 municipality, bytes32 key, uint64 t) external view returns (bool) {
        Key storage k = _keys[municipality][key];
        return
            k.validFrom != 0 &&
            k.validFrom <= t &&
            (k.retiredAt == 0 || t < k.retiredAt) &&
            (k.revokedAt == 0 || t < k.revokedAt);
    }

    /// @dev The key that the certificate with SHA-256 `certHash` certifies in `municipality`'s namespace; zero
    /// when that municipality did not record it (whoever else did).
    function certificateKey(uint32 municipality, bytes32 certHash) external view returns (bytes32) {
        return _certificates[municipality][certHash];
    }

    /// @dev All zero when `root` is not anchored in `municipality`'s namespace.
    function anchorOf(
        uint32 municipality,
        bytes32 root
    ) external view returns (uint64 anchoredAt, uint64 blockNumber, uint32 leafCount) {
        Anchor storage a = _anchors[municipality][root];
        return (a.timestamp, a.blockNumber, a.leafCount);
    }

    /// @dev `revokedAt == 0` means not revoked in `municipality`'s namespace.
    function revocationOf(
        uint32 municipality,
        bytes32 credentialHash
    ) external view returns (uint8 reason, uint64 revokedAt) {
        Revocation storage r = _revocations[municipality][credentialHash];
        return (r.reason, r.revokedAt);
    }

    /**
     * @dev Everything a verifier needs in one call, all in the issuer `municipality`'s namespace: the anchor
     * of `root` (zeros when not anchored there, whoever else anchored it) and the revocation of
     * `credentialHash` (zeros when not revoked there).
     */
    function status(
        uint32 municipality,
        bytes32 root,
        bytes32 credentialHash
    )
        external
        view
        returns (uint64 anchoredAt, uint64 blockNumber, uint32 leafCount, uint8 revocationReason, uint64 revokedAt)
    {
        Anchor storage a = _anchors[municipality][root];
        Revocation storage r = _revocations[municipality][credentialHash];
        return (a.timestamp, a.blockNumber, a.leafCount, r.reason, r.revokedAt);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /// @dev The caller's municipality; reverts unless the caller operates a non-suspended one.
    function _activeMunicipality() private view returns (uint32 code) {
        Operator storage op = _operators[msg.sender];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(op.slot) // the packed Operator: municipality (bits 0-31) | suspended (bit 32)
        }
        code = uint32(word);
        if (code == 0) revert RegistryUnauthorizedOperator(msg.sender);
        if (word >> 32 != 0) revert RegistryMunicipalitySuspended(code);
    }

    /// @dev The caller's municipality, suspended or not (for revocations); reverts unless the caller is an
    /// operator. An operator always acts for a registered municipality.
    function _operatorMunicipality() private view returns (uint32 code) {
        code = _operators[msg.sender].municipality;
        if (code == 0) revert RegistryUnauthorizedOperator(msg.sender);
    }

    /// @dev One SSTORE of the packed Revocation (reason | revokedAt << 8) into an empty slot.
    function _writeRevocation(Revocation storage r, uint8 reason) private {
        assembly ("memory-safe") {
            sstore(r.slot, or(reason, shl(8, timestamp())))
        }
    }

    /// @dev The earliest `validFrom` a key registered now may have (invariant 4); at least 1.
    function _earliestStart() private view returns (uint64) {
        return block.timestamp > MAX_KEY_BACKDATE ? uint64(block.timestamp) - MAX_KEY_BACKDATE : 1;
    }

    function _recordCertificate(uint32 code, bytes32 key, bytes32 certHash) private {
        bytes32 recorded = _certificates[code][certHash];
        if (recorded != bytes32(0)) revert RegistryCertificateAlreadyRecorded(certHash, recorded);
        _certificates[code][certHash] = key;
        emit CertificateRecorded(code, key, certHash);
    }

    /// @dev The key in municipality `code`'s namespace; reverts when it is not registered there.
    function _ownKey(uint32 code, bytes32 key) private view returns (Key storage k) {
        k = _keys[code][key];
        if (k.validFrom == 0) revert RegistryUnknownKey(key);
    }

    function _addOperator(uint32 code, Municipality storage m, address operator) private {
        if (operator == address(0)) revert RegistryInvalidAccount(operator);
        uint32 current = _operators[operator].municipality;
        if (current != 0) revert RegistryOperatorAlreadyAssigned(operator, current);
        _operators[operator] = Operator(code, m.suspended);
        m.operators.push(operator);
        emit OperatorAdded(code, operator);
    }

    function _setSuspended(uint32 code, bool suspended) private {
        Municipality storage m = _municipalities[code];
        if (m.registeredAt == 0) revert RegistryUnknownMunicipality(code);
        if (m.suspended == suspended) return;
        m.suspended = suspended;
        address[] storage list = m.operators;
        for (uint256 i = 0; i < list.length; ++i) {
            _operators[list[i]].suspended = suspended;
        }
        if (suspended) emit MunicipalitySuspended(code);
        else emit MunicipalityUnsuspended(code);
    }
}
