"""The seeded step generator of a client walk.

Each call to :func:`next_step` weighs the candidate operations that fit the model's
state (add a target to a delegation that exists, remove a target that is there,
publish when something is staged, ...) and also, less often, ones expected to fail
(rotate the timestamp key without ``-r``, remove an unknown delegation key, ...).
Flags follow ``cmd/notary/tuf.go``, ``delegations.go`` and ``keys.go`` of notary 0.7.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.differential.material import Material
from tests.differential.model import (
    COLLABORATOR,
    OWNER,
    Delegation,
    Effect,
    Op,
    Planned,
    RepoState,
    WalkModel,
    no_effect,
)

TARGET_NAMES = ("t1", "t2", "t3", "app/a", "app/b", "lib/c", "docs/d")
ROLES = ("targets/releases", "targets/qa", "targets/dev")
ODD_ROLES = ("targets/releases/nested", "releases", "targets/qa/deep")
PATHS = ("app/", "lib/", "docs/")
MAX_KEYS = 4


@dataclass
class Generator:
    """Chooses the steps of one walk from ``rng`` and the model."""

    rng: random.Random
    model: WalkModel
    material: Material

    # ------------------------------------------------------------------ helpers

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _publish_flag(self, p: float = 0.3) -> tuple[str, ...]:
        return ("-p",) if self._chance(p) else ()

    def _target_file(self, name: str) -> str:
        version = self.rng.randrange(3)
        safe = name.replace("/", "_")
        return self.material.write(f"{safe}-v{version}.bin", f"payload of {name} v{version}\n")

    def _known_role(self) -> str | None:
        roles = sorted(self.model.staged.delegations)
        return self.rng.choice(roles) if roles else None

    def _any_role(self) -> str:
        known = self._known_role()
        if known is not None and self._chance(0.6):
            return known
        if self._chance(0.08):
            return self.rng.choice(ODD_ROLES)
        return self.rng.choice(ROLES)

    def _target_for(self, delegation: Delegation | None) -> str:
        """A target name, usually inside the delegation's paths."""
        if delegation is not None and self._chance(0.85):
            prefixes = sorted(delegation.paths)
            if "" in prefixes or not prefixes:
                return self.rng.choice(TARGET_NAMES)
            prefix = self.rng.choice(prefixes)
            inside = [n for n in TARGET_NAMES if n.startswith(prefix)]
            return self.rng.choice(inside or TARGET_NAMES)
        return self.rng.choice(TARGET_NAMES)

    def _key(self) -> str:
        """An existing delegation key name, or a new one (certificate or bare public key)."""
        made = self.model.keys_made
        if made and (len(made) >= MAX_KEYS or self._chance(0.5)):
            return self.rng.choice(made)
        name = f"d{len(made) + 1}"
        self.material.add_key(name, as_certificate=self._chance(0.6))
        made.append(name)
        return name

    @staticmethod
    def _op(
        kind: str, *args: str, actor: str = OWNER, stdin: str | None = None, remote: bool = False
    ) -> Op:
        return Op(actor=actor, args=args, kind=kind, stdin=stdin, remote=remote)

    # --------------------------------------------------------------- candidates

    def init(self) -> Planned:
        flag = self._publish_flag(0.5)

        def effect(m: WalkModel, ok: bool) -> None:
            if not ok:
                return
            m.owner_broken = m.remote and not flag
            m.owner_local = True
            m.staged = RepoState()
            m.owner_pending = True
            if flag:
                m.commit()
                m.snapshot_remote = False

        return Planned(self._op("init", "init", self.model.gun, *flag, remote=bool(flag)), effect)

    def _staging(
        self, kind: str, args: tuple[str, ...], change: Callable[[RepoState], None]
    ) -> Planned:
        publish = "-p" in args

        def effect(m: WalkModel, ok: bool) -> None:
            if ok or publish:
                change(m.staged)
                m.owner_pending = True
            if publish and ok:
                m.commit()
            elif publish:
                m.owner_stuck = True

        return Planned(self._op(kind, *args, remote=publish), effect)

    def _roles_flag(self) -> tuple[tuple[str, ...], str | None]:
        if self._chance(0.35):
            role = self._any_role()
            return ("--roles", role), role
        return (), None

    def add(self) -> Planned:
        roles, role = self._roles_flag()
        name = self._target_for(self.model.staged.delegations.get(role or ""))
        args = ("add", self.model.gun, name, self._target_file(name), *roles, *self._publish_flag())
        return self._staging("add", args, _adder(name, role))

    def addhash(self) -> Planned:
        roles, role = self._roles_flag()
        name = self._target_for(self.model.staged.delegations.get(role or ""))
        size = self.rng.randrange(1, 5000)
        digest = hashlib.sha256(f"{name}-{size}".encode()).hexdigest()
        args = ("addhash", self.model.gun, name, str(size), "--sha256", digest, *roles)
        return self._staging("addhash", args + self._publish_flag(), _adder(name, role))

    def remove(self) -> Planned:
        roles, role = self._roles_flag()
        state = self.model.staged
        pool = sorted(
            state.delegations[role].targets if role in state.delegations else state.targets
        )
        name = (
            self.rng.choice(pool) if pool and self._chance(0.8) else self.rng.choice(TARGET_NAMES)
        )
        args = ("remove", self.model.gun, name, *roles, *self._publish_flag())
        return self._staging("remove", args, _remover(name, role))

    def delegation_add(self) -> Planned:
        role = self._any_role()
        exists = role in self.model.staged.delegations
        keys = [] if exists and self._chance(0.3) else [self._key()]
        choice = self.rng.random()
        if choice < 0.4:
            paths: list[str] = [""]
            path_args: tuple[str, ...] = ("--all-paths",)
        elif choice < 0.85 or not keys:
            paths = self.rng.sample(PATHS, self.rng.randint(1, 2))
            path_args = ("--paths", ",".join(paths))
        else:
            paths, path_args = [], ()
        files = tuple(self.material.keys[k].public_file for k in keys)
        args = (
            "delegation",
            "add",
            self.model.gun,
            role,
            *files,
            *path_args,
            *self._publish_flag(0.2),
        )

        def change(state: RepoState) -> None:
            entry = state.delegations.setdefault(role, Delegation())
            entry.keys.update(keys)
            entry.paths.update(paths)

        return self._staging("delegation-add", args, change)

    def _remove_what(self, mode: str, entry: Delegation) -> tuple[str, ...] | None:
        """The arguments after the role for ``delegation remove`` in ``mode``."""
        if mode == "role":
            return ("-y",)
        if mode == "paths":
            pool = sorted(p for p in entry.paths if p) or list(PATHS)
            return ("--paths", self.rng.choice(pool))
        if mode == "all-paths":
            return ("--all-paths",)
        names = sorted(entry.keys) or self.model.keys_made
        if not names:
            return None
        key = self.material.keys[self.rng.choice(names)]
        return (key.tuf_id if self._chance(0.85) else key.canonical_id,)

    def delegation_remove(self) -> Planned | None:
        role = self._known_role() or (self.rng.choice(ROLES) if self._chance(0.2) else None)
        if role is None:
            return None
        mode = self.rng.choice(("role", "paths", "all-paths", "key"))
        what = self._remove_what(mode, self.model.staged.delegations.get(role, Delegation()))
        if what is None:
            return None
        args = ("delegation", "remove", self.model.gun, role, *what, *self._publish_flag(0.2))
        tuf_ids = {key.tuf_id: name for name, key in self.material.keys.items()}
        return self._staging(
            f"delegation-remove-{mode}", args, _delegation_remover(role, what, tuf_ids)
        )

    def delegation_purge(self) -> Planned | None:
        if not self.model.keys_made:
            return None
        key = self.material.keys[self.rng.choice(self.model.keys_made)]
        args = (
            "delegation",
            "purge",
            self.model.gun,
            "--key",
            key.canonical_id,
            *self._publish_flag(0.2),
        )

        def change(state: RepoState) -> None:
            for entry in state.delegations.values():
                entry.keys.discard(key.name)

        return self._staging("delegation-purge", args, change)

    def witness(self) -> Planned:
        role = self._known_role() or "targets"
        args = ("witness", self.model.gun, role, *self._publish_flag(0.5))
        return self._staging("witness", args, lambda _state: None)

    def reset(self) -> Planned:
        if self.model.owner_pending and self._chance(0.2):
            return Planned(self._op("reset-n", "reset", self.model.gun, "-n", "0"), no_effect)

        def effect(m: WalkModel, ok: bool) -> None:
            if ok:
                m.discard_staged()

        return Planned(self._op("reset-all", "reset", self.model.gun, "--all"), effect)

    def status(self) -> Planned:
        return Planned(self._op("status", "status", self.model.gun), no_effect)

    def publish(self) -> Planned:
        def effect(m: WalkModel, ok: bool) -> None:
            if ok:
                m.commit()
            else:
                m.owner_stuck = True

        return Planned(self._op("publish", "publish", self.model.gun, remote=True), effect)

    def rotate(self) -> Planned:
        gun = self.model.gun
        choice = self.rng.random()
        if choice < 0.3:
            return self.rotate_snapshot()
        if choice < 0.55:
            flag = ("-r",) if self._chance(0.9) else ()
            op = self._op("rotate-timestamp", "key", "rotate", gun, "timestamp", *flag, remote=True)
            return Planned(op, no_effect)
        if choice < 0.8:
            flag = ("-r",) if self._chance(0.05) else ()
            op = self._op("rotate-targets", "key", "rotate", gun, "targets", *flag, remote=True)
            return Planned(op, no_effect)
        op = self._op("rotate-root", "key", "rotate", gun, "root", stdin="yes\n", remote=True)
        return Planned(op, no_effect)

    def rotate_snapshot(self) -> Planned:
        """``key rotate snapshot -r`` (server-managed), sometimes back to a local key."""
        server = not self.model.snapshot_remote or self._chance(0.2)
        flag = ("-r",) if server else ()

        def effect(m: WalkModel, ok: bool) -> None:
            if ok:
                m.snapshot_remote = server

        gun = self.model.gun
        op = self._op("rotate-snapshot", "key", "rotate", gun, "snapshot", *flag, remote=True)
        return Planned(op, effect)

    def delete_remote(self) -> Planned:
        def effect(m: WalkModel, ok: bool) -> None:
            if ok:
                m.forget_repository()

        op = self._op("delete-remote", "delete", self.model.gun, "--remote", remote=True)
        return Planned(op, effect)

    def lookup(self) -> Planned:
        """``lookup GUN NAME``: exits 0 only if the published repository has the target."""
        name = self.rng.choice(sorted(self.model.published.targets) or TARGET_NAMES)
        if self._chance(0.3):
            name = self.rng.choice(TARGET_NAMES)
        return Planned(self._op("lookup", "lookup", self.model.gun, name), no_effect)

    def owner_list(self) -> Planned:
        return Planned(self._op("list", "list", self.model.gun), no_effect)

    def import_key(self, actor: str) -> Planned | None:
        published = self.model.published.delegations
        wanted = sorted({k for d in published.values() for k in d.keys}) or self.model.keys_made
        if not wanted:
            return None
        name = self.rng.choice(wanted)
        role = next(
            (r for r, d in sorted(published.items()) if name in d.keys), self.rng.choice(ROLES)
        )
        key = self.material.keys[name]

        def effect(m: WalkModel, ok: bool) -> None:
            if ok:
                (m.collab_keys if actor == COLLABORATOR else m.owner_delegation_keys).add(name)

        op = self._op("key-import", "key", "import", key.private_file, "--role", role, actor=actor)
        return Planned(op, effect)

    def collab_publish(self) -> Planned | None:
        published = self.model.published.delegations
        signable = sorted(r for r, d in published.items() if d.keys & self.model.collab_keys)
        if not signable:
            return None
        role = self.rng.choice(signable)
        entry = published[role]
        removing = bool(entry.targets) and self._chance(0.45)
        name = self.rng.choice(sorted(entry.targets)) if removing else self._target_for(entry)
        gun = self.model.gun
        if removing:
            args: tuple[str, ...] = ("remove", gun, name, "--roles", role, "-p")
        else:
            args = ("add", gun, name, self._target_file(name), "--roles", role, "-p")

        def effect(m: WalkModel, ok: bool) -> None:
            m.collab_local = True
            if not ok:
                m.collab_pending = m.collab_stuck = True
                return
            m.collab_pending = m.collab_stuck = False
            for state in (m.published, m.staged):
                target = state.delegations.get(role)
                if target is not None:
                    (target.targets.discard if removing else target.targets.add)(name)

        kind = "collab-remove" if removing else "collab-add"
        return Planned(self._op(kind, *args, actor=COLLABORATOR, remote=True), effect)

    def collab_reset(self) -> Planned:
        def effect(m: WalkModel, ok: bool) -> None:
            if ok:
                m.collab_pending = m.collab_stuck = False

        op = self._op("collab-reset", "reset", self.model.gun, "--all", actor=COLLABORATOR)
        return Planned(op, effect)

    def collab_forget(self) -> Planned:
        def effect(m: WalkModel, ok: bool) -> None:
            if ok:
                m.collab_local = False

        op = self._op("collab-delete-local", "delete", self.model.gun, actor=COLLABORATOR)
        return Planned(op, effect)

    # ------------------------------------------------------------------ choice

    def _weights(self) -> list[tuple[float, Callable[[], Planned | None]]]:
        m = self.model
        if not m.owner_local:
            return [
                (30, self.init),
                (1, self.add),
                (1, self.publish),
                (1, self.owner_list),
                (1, self.rotate),
                (2 if m.collab_local else 0, self.collab_forget),
                (1, self.collab_publish),
            ]
        has_delegations = bool(m.staged.delegations)
        return [
            (0.3, self.init),
            (12, self.add),
            (4, self.addhash),
            (6, self.remove),
            (10 if has_delegations else 14, self.delegation_add),
            (12 if has_delegations else 0, self.delegation_remove),
            (2 if m.keys_made else 0, self.delegation_purge),
            (2, self.witness),
            (40 if m.owner_stuck else 2, self.reset),
            (2, self.status),
            (12 if m.owner_pending else 2, self.publish),
            (6 if m.remote else 1, self.rotate),
            (
                12 if m.collab_keys and m.remote and not m.snapshot_remote else 0,
                self.rotate_snapshot,
            ),
            (30 if m.owner_broken else 1.5, self.delete_remote),
            (1, self.owner_list),
            (1.5 if m.remote else 0.3, self.lookup),
            (6 if m.published.delegations else 0, lambda: self.import_key(COLLABORATOR)),
            (1 if m.published.delegations else 0, lambda: self.import_key(OWNER)),
            (14 if m.collab_keys else 0, self.collab_publish),
            (40 if m.collab_stuck else 0, self.collab_reset),
            (3 if m.collab_local and not m.remote else 0, self.collab_forget),
        ]

    def next_step(self) -> Planned:
        """Draw the next step; candidates that do not apply are redrawn (bounded)."""
        weighted = [(w, f) for w, f in self._weights() if w > 0]
        total = sum(w for w, _ in weighted)
        for _ in range(50):
            point = self.rng.uniform(0, total)
            for weight, candidate in weighted:
                point -= weight
                if point <= 0:
                    planned = candidate()
                    if planned is not None:
                        return planned
                    break
        return self.status()


def _adder(name: str, role: str | None) -> Callable[[RepoState], None]:
    def change(state: RepoState) -> None:
        if role is None:
            state.targets.add(name)
        elif role in state.delegations:
            state.delegations[role].targets.add(name)

    return change


def _delegation_remover(
    role: str, what: tuple[str, ...], tuf_ids: dict[str, str]
) -> Callable[[RepoState], None]:
    def change(state: RepoState) -> None:
        entry = state.delegations.get(role)
        if what == ("-y",):
            state.delegations.pop(role, None)
        elif entry is None:
            return
        elif what[0] == "--paths":
            entry.paths.discard(what[1])
        elif what[0] == "--all-paths":
            entry.paths.clear()
        else:
            entry.keys.discard(tuf_ids.get(what[0], ""))

    return change


def _remover(name: str, role: str | None) -> Callable[[RepoState], None]:
    def change(state: RepoState) -> None:
        if role is None:
            state.targets.discard(name)
        elif role in state.delegations:
            state.delegations[role].targets.discard(name)

    return change


__all__ = ["Effect", "Generator"]
