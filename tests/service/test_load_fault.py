"""Load and fault at the issue's scale: 4 servers on one PostgreSQL, 10,000 issue requests from concurrent
clients, the anchoring lease holder SIGKILLed mid-run, and anvil SIGKILLed mid-run and restarted on the same
port from its state saved a few seconds earlier (as after a crash: anchors mined since are lost, and the
anchoring worker must send them again).

Afterwards: every accepted request is journaled exactly once (journal and audit log) and anchored exactly once
(one ``BatchAnchored`` log per journaled root on chain, each root recomputed from the journal's leaves); every
retry of an Idempotency-Key on another server returned the same credential; no 5xx; transport errors only from
the killed server; issuing went on while the node was down; the servers' logs hold no traceback and no
personal data. It takes minutes (marked slow); it still runs in CI's ``scripts/test``.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from hexbytes import HexBytes
from loadkit import Connections, Tally, TransportError, anchoring_lease_holder

import civiccert as cc
from civiccert.chain.merkle import MerkleTree
from civiccert.chain.nodes import AnvilNode
from civiccert.credentials import sdjwt

from chainkit import CITY
from pgkit import PostgresServer, free_port
from servicekit import Server, hand_over
from worldkit import PASSPHRASE, make_world

STATE_FILE = "anvil-state.json"
REQUESTS = 10_000
SERVERS = 4
CLIENTS = 12  # concurrent client threads
KILL_AT = REQUESTS * 3 // 10  # accepted requests before the anchoring server is SIGKILLed
ANVIL_AT = REQUESTS * 6 // 10  # accepted requests before anvil restarts
ANVIL_DOWN_SECONDS = 3.0
REWIND_SECONDS = 2.0  # anvil restarts from its state saved at least this long before it was killed
REPLAY_EVERY = 10  # every tenth accepted request is retried once on another server
ANCHOR_DEADLINE = 180.0  # seconds for the worker to anchor what is pending once the clients are done
PERSONAL = ("見本", "ミホン", "100000000013", "千葉県松戸市見本町", "1980-04-01")  # from household-matsudo.json


@pytest.fixture
def node(anvil: AnvilNode, tmp_path: Path) -> Iterator[AnvilNode]:
    """An anvil of this test's own on a fixed port with saved state, so a restart keeps the servers' RPC URL."""
    with AnvilNode(binary=anvil.binary, state_path=tmp_path / STATE_FILE, port=free_port()) as own:
        yield own


@pytest.mark.slow
def test_four_servers_ten_thousand_requests_a_kill_and_a_node_restart_lose_nothing(
    tmp_path: Path, node: AnvilNode, postgres: PostgresServer
) -> None:
    chain = cc.connect(node.url, expected_chain_id=31337)
    state = tmp_path / STATE_FILE
    world = make_world(tmp_path, chain=chain)
    url = postgres.new_database()
    clients = hand_over(world, tmp_path, batch_age=1)
    booted = time.monotonic()
    with ThreadPoolExecutor(SERVERS) as starting:  # in parallel: each start is seconds of imports and key opening
        servers = list(starting.map(lambda _: Server(world.home, clients, passphrase=PASSPHRASE, journal_url=url),
                                    range(SERVERS)))  # fmt: skip
    record = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    body = json.dumps({"record": record}, ensure_ascii=False).encode("utf-8")
    connections = Connections(clients)
    tally = Tally()
    events: dict[str, float] = {}
    killed: list[Server] = []

    def issue(n: int) -> None:
        key = f"load-{n:06d}"
        first: dict[str, object] | None = None
        replayed = False
        for attempt in range(40):
            server = servers[(n + attempt) % SERVERS]
            try:
                status, answer = connections.post(server, "/v1/credentials", body, key)
            except TransportError as exc:
                with tally.lock:
                    tally.transport_errors.append((server.url, str(exc), time.monotonic()))
                continue  # that server is gone: the same key, on the next server
            if status == 409 and answer.get("code") == "idempotency_in_progress":
                with tally.lock:
                    tally.conflicts += 1
                time.sleep(0.1)  # its owner is still running (or not yet reaped): ask again
                continue
            if status != 201:
                with tally.lock:
                    (tally.server_errors if status >= 500 else tally.other).append((status, str(answer.get("code"))))
                return
            credential = answer["credential"]
            if first is None:
                first = credential
                with tally.lock:
                    tally.accepted[key] = credential
                    tally.accepted_at.append(time.monotonic())
                if n % REPLAY_EVERY == 0 and not replayed:
                    replayed = True
                    continue  # retry once after success, on another server
                return
            assert credential == first, "a retry of an Idempotency-Key returned another credential"
            with tally.lock:
                tally.replays += 1
            return
        raise AssertionError(f"request {n} was never answered")

    def faults() -> None:
        """SIGKILL the lease holder at KILL_AT accepted requests; crash and restart anvil at ANVIL_AT."""
        while tally.count() < KILL_AT:
            time.sleep(0.05)
        holder = anchoring_lease_holder(url, servers)
        victim = holder or servers[0]
        events["kill"] = time.monotonic()
        victim.kill()
        killed.append(victim)
        events["killed_the_lease_holder"] = float(holder is not None)
        while tally.count() < ANVIL_AT:
            time.sleep(0.05)
        saved_by = chain.block_number()
        saved = _saved_state(state)  # the chain as anvil last saved it (up to block saved_by)
        time.sleep(REWIND_SECONDS)
        _wait_for_anchor_after(url, saved_by)  # so that the crash surely loses one
        events["head_before"] = chain.block_number()
        events["anvil_down"] = time.monotonic()
        node.kill()  # SIGKILL: what was mined since the saved state is gone, as after a crash or power loss
        state.write_bytes(saved)
        with psycopg.connect(url) as db:
            row = db.execute("SELECT max(block_number) FROM batches WHERE state = 'anchored'").fetchone()
        events["anchored_head"] = float(row[0] if row and row[0] is not None else 0)
        time.sleep(ANVIL_DOWN_SECONDS)
        node.start()  # same port, same state file: the servers' configured RPC URL is valid again
        events["anvil_up"] = time.monotonic()
        events["head_after"] = chain.block_number()

    started = time.monotonic()
    cpu_started = time.process_time()
    fault_errors: list[BaseException] = []

    def run_faults() -> None:
        try:
            faults()
        except BaseException as exc:  # reported by the test thread below
            fault_errors.append(exc)

    fault_thread = threading.Thread(target=run_faults, daemon=True)
    fault_thread.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(issue, range(REQUESTS)))
        issued_in = time.monotonic() - started
        fault_thread.join(60)
        anchored_in = _wait_until_anchored(url)
    finally:
        connections.close()
        exit_codes = [_stop(server) for server in servers if server not in killed]
    assert fault_errors == []
    print(
        f"\n{REQUESTS} requests in {issued_in:.1f} s ({REQUESTS / issued_in:.0f}/s), all anchored "
        f"{anchored_in:.1f} s later; client CPU {time.process_time() - cpu_started:.1f} s; kill at "
        f"{events['kill'] - started:.1f} s, anvil down {events['anvil_down'] - started:.1f}-"
        f"{events['anvil_up'] - started:.1f} s losing {events['anchored_head'] - events['head_after']:.0f} anchored "
        f"blocks; {tally.replays} replays, {tally.conflicts} conflicts, "
        f"{len(tally.transport_errors)} transport errors; {SERVERS} servers started in "
        f"{started - booted:.1f} s"
    )

    assert exit_codes == [0] * (SERVERS - 1)  # the others stop cleanly on SIGTERM
    assert tally.server_errors == []
    assert tally.other == []
    assert len(tally.accepted) == REQUESTS  # every request was accepted, some after a retry elsewhere
    assert len(killed) == 1
    assert events["killed_the_lease_holder"]  # the server anchoring at that moment
    assert killed[0].proc.returncode == -9
    others = [(u, e, round(t - started, 1)) for u, e, t in tally.transport_errors if u != killed[0].url]
    assert others == []  # only the killed server failed to answer
    assert all(t >= events["kill"] for _u, _e, t in tally.transport_errors)
    assert tally.replays == REQUESTS // REPLAY_EVERY
    during_outage = [t for t in tally.accepted_at if events["anvil_down"] < t < events["anvil_up"]]
    assert during_outage  # issuing never needs the node
    # the restarted chain lost blocks holding anchors the journal had as anchored: the worker sent them again
    assert events["head_after"] < events["anchored_head"] <= events["head_before"]
    _check_journal_and_chain(url, world.registry, tally)
    _check_logs(servers)


def _saved_state(path: Path) -> bytes:
    """A whole copy of anvil's state file (anvil rewrites it in place every second: a torn read is skipped)."""
    for _ in range(100):
        data = path.read_bytes()
        try:
            json.loads(data)
        except ValueError:
            time.sleep(0.05)
            continue
        return data
    raise AssertionError("anvil's state file stayed unreadable")


def _wait_for_anchor_after(url: str, block: int, timeout: float = 30.0) -> None:
    """Until the journal holds a batch anchored in a block after ``block``."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as db:
        while time.monotonic() < deadline:
            row = db.execute("SELECT count(*) FROM batches WHERE state = 'anchored' AND block_number > %s",
                             (block,)).fetchone()  # fmt: skip
            if row is not None and row[0] > 0:
                return
            time.sleep(0.1)
    raise AssertionError("nothing was anchored while anvil ran after its save")


def _stop(server: Server) -> int | None:
    """SIGTERM exit code, None when the server did not stop (then SIGKILLed, so the test's error shows)."""
    try:
        return server.stop()
    except subprocess.TimeoutExpired:
        server.kill()
        return None


def _wait_until_anchored(url: str) -> float:
    """Seconds until no journaled credential waits for an anchored batch (the worker's lease holder did it)."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as db:
        while time.monotonic() - started < ANCHOR_DEADLINE:
            row = db.execute(
                "SELECT count(*) FROM credentials c LEFT JOIN batches b ON b.batch_id = c.batch_id"
                " WHERE b.state IS NULL OR b.state != 'anchored'"
            ).fetchone()
            if row is not None and row[0] == 0:
                return time.monotonic() - started
            time.sleep(0.5)
    raise AssertionError("the worker did not anchor everything in time")


def _check_journal_and_chain(url: str, registry: cc.Registry, tally: Tally) -> None:
    accepted = {c["id"]: c for c in tally.accepted.values()}
    assert len(accepted) == len(tally.accepted)  # one distinct credential per accepted request
    with psycopg.connect(url) as db:
        journaled = {str(r[0]): (bytes(r[1]), r[2]) for r in db.execute(
            "SELECT credential_id, credential_hash, batch_id FROM credentials WHERE kind = 'digital'")}  # fmt: skip
        batches = db.execute("SELECT batch_id, root, size, state, tx_hash FROM batches").fetchall()
        leaves = {int(b[0]): [bytes(r[0]) for r in db.execute(
            "SELECT credential_hash FROM credentials WHERE batch_id = %s ORDER BY leaf_index", (b[0],))]
            for b in batches}  # fmt: skip
        audited = Counter(i for (ids,) in db.execute(
            "SELECT credential_ids FROM service_audit WHERE action = 'issue'") for i in json.loads(ids))  # fmt: skip
    for cred_id, credential in accepted.items():
        assert cred_id in journaled, "an accepted credential is not journaled"
        assert journaled[cred_id][0] == sdjwt.credential_hash(str(credential["sd_jwt"]))
    # a server killed after journaling but before answering leaves hashes nobody received: at most one per
    # request it had in flight (its clients retried elsewhere)
    assert len(journaled) - len(accepted) <= 64
    assert Counter({i: 1 for i in accepted}) == audited  # one audit entry per delivered credential, no other
    assert {b[3] for b in batches} == {"anchored"}
    assert len({bytes(b[4]) for b in batches}) == len(batches)  # one anchoring transaction per batch
    for batch_id, root, size, _state, _tx in batches:
        assert len(leaves[batch_id]) == size
        assert MerkleTree(leaves[batch_id]).root == bytes(root)
    chain = registry.chain
    topic = HexBytes(chain.w3.keccak(text="BatchAnchored(bytes32)")).to_0x_hex()
    logs = chain.w3.eth.get_logs({"address": registry.address, "fromBlock": 0, "toBlock": "latest",
                                  "topics": [topic]})  # fmt: skip
    logged = Counter(bytes(HexBytes(log["topics"][1])) for log in logs)
    assert logged == Counter(bytes(b[1]) for b in batches)  # each root anchored on chain exactly once
    for _batch_id, root, size, _state, _tx in batches:
        info = registry.root(CITY, bytes(root))
        assert info is not None
        assert info.leaf_count == size


def _check_logs(servers: list[Server]) -> None:
    for server in servers:
        text = server.log.read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in text
        for value in PERSONAL:
            assert value not in text
            assert json.dumps(value)[1:-1] not in text
