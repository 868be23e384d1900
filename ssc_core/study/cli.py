"""``ssc study ...``: create and administer reader studies from the command line.

Every subcommand prints what it did in plain words and exits non-zero on any refusal (the dispatcher in
``ssc_core/cli.py`` prints ``error: ...`` and the hint, exit code 2). Admin actions run as ``--as NAME``
(default: the study's only admin).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ssc_core.constants import DEFAULT_WASHOUT_DAYS, DEMO_STUDY_PATIENTS, STUDY_SUFFIX
from ssc_core.progress import Progress

if TYPE_CHECKING:
    from ssc_core.study.scans import ScanImport
    from ssc_core.study.store import StudyStore


def _common(write: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("study", type=Path, help=f"the study file ({STUDY_SUFFIX})")
    if write:
        p.add_argument(
            "--as", dest="actor", metavar="ADMIN", help="admin making the change (default: the only admin)"
        )
        p.add_argument(
            "--allow-network-drive",
            action="store_true",
            help="write even though the study is on a network drive (not recommended; no WAL there)",
        )
    return p


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``ssc study ...`` to the ``ssc`` parser."""
    study = subparsers.add_parser("study", help="create and administer reader studies (.sscstudy files)")
    sub = study.add_subparsers(dest="study_command", metavar="ACTION")
    study.set_defaults(func=lambda a: (study.print_help(), 1)[1])
    rw, ro = _common(True), _common(False)

    p = sub.add_parser("create", parents=[rw], help="create a new study file")
    p.add_argument("--name", required=True, help="the study's name")
    p.add_argument("--admin", default="admin", help="name of the first admin (default: admin)")
    p.add_argument(
        "--washout-days", type=int, default=DEFAULT_WASHOUT_DAYS, help="washout between repeat sessions"
    )
    _scan_options(p, required=False)
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("add-cases", parents=[rw], help="add one case per CT series from scans")
    _scan_options(p, required=True)
    p.set_defaults(func=cmd_add_cases)

    p = sub.add_parser("add-reader", parents=[rw], help="add a reader or admin")
    p.add_argument("name")
    p.add_argument("--role", choices=("reader", "admin"), default="reader")
    p.set_defaults(func=cmd_add_reader)

    p = sub.add_parser("add-session", parents=[rw], help="plan a session (open it with open-session)")
    p.add_argument("label", help="unique label, e.g. T1")
    p.add_argument("--kind", choices=("observer", "consensus", "heatmap"), required=True)
    p.add_argument("--readers", required=True, help="comma-separated reader names")
    p.add_argument("--unblinded", action="store_true", help="readers see the reference sessions' readings")
    p.add_argument("--ai", choices=("hidden", "after-commit", "visible"), default="hidden", help="AI policy")
    p.add_argument("--seed", type=int, help="order seed (default: random)")
    p.add_argument("--repeat-of", help="label of the session this one repeats (washout applies)")
    p.add_argument("--references", default="", help="comma-separated labels of sessions it compares")
    p.add_argument(
        "--cases", default="", help="comma-separated case codes (default: all / the repeated session's)"
    )
    p.add_argument("--bundle", help="model bundle hash whose AI results the session shows")
    p.set_defaults(func=cmd_add_session)

    for name, helptext, func in (
        ("open-session", "open a planned session for its readers", cmd_open_session),
        ("close-session", "close an open session", cmd_close_session),
    ):
        p = sub.add_parser(name, parents=[rw], help=helptext)
        p.add_argument("label")
        p.set_defaults(func=func)

    p = sub.add_parser("reopen-session", parents=[rw], help="reopen a closed session (with a reason)")
    p.add_argument("label")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_reopen_session)

    p = sub.add_parser("override-washout", parents=[rw], help="let a reader into a repeat session early")
    p.add_argument("label")
    p.add_argument("reader")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_override_washout)

    p = sub.add_parser("exclude-case", parents=[rw], help="take a case off every worklist (with a reason)")
    p.add_argument("code")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_exclude_case)

    p = sub.add_parser("status", parents=[ro], help="show the study, its cases, readers and sessions")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("cases", parents=[ro], help="list case codes (admin; --sources shows scan locations)")
    p.add_argument("--sources", action="store_true", help="also print each case's scan location (admin only)")
    p.set_defaults(func=cmd_cases)

    p = sub.add_parser("import-labels", parents=[rw], help="import a label workbook as a consensus session")
    p.add_argument("workbook", type=Path, help="GohScores.xlsx layout (.xlsx or .csv)")
    p.add_argument("--label", default="GT", help="label of the new consensus session (default: GT)")
    p.add_argument("--reader", help="who recorded the consensus (default: the admin)")
    p.add_argument(
        "--mapping", type=Path, help="CSV with columns PatID,case_code (default: match scan names)"
    )
    p.add_argument("--allow-extra-columns", action="store_true")
    p.set_defaults(func=cmd_import_labels)

    p = sub.add_parser(
        "import-likert", parents=[rw], help="import the authors' Likert JSON into a heat-map session"
    )
    p.add_argument("json", type=Path)
    p.add_argument("--label", required=True, help="heat-map rating session (created if new)")
    p.add_argument("--reader", required=True, help="the rater")
    p.add_argument(
        "--mapping", type=Path, help="CSV with columns PatID,case_code (default: match scan names)"
    )
    p.set_defaults(func=cmd_import_likert)

    p = sub.add_parser(
        "verify", parents=[ro], help="check the audit chain and that it explains every reading"
    )
    p.add_argument(
        "--expect-head", help="the audit head recorded earlier (seq:hash); it must still be in the chain"
    )
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "demo", help="build the demo study: synthetic phantom patients, a consensus and reading sessions"
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help=f"the new study file ({STUDY_SUFFIX})"
    )
    p.add_argument(
        "--scans",
        type=Path,
        metavar="DIR",
        help="folder for the phantom scans (default: FILE's name + _scans)",
    )
    p.add_argument(
        "--patients",
        type=int,
        default=DEMO_STUDY_PATIENTS,
        help=f"phantom patients (default {DEMO_STUDY_PATIENTS})",
    )
    p.add_argument("--matrix", type=int, default=512, help="pixels per side (default 512; smaller is faster)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("backup", parents=[ro], help="copy the study safely, even while it is in use")
    p.add_argument("dest", type=Path)
    p.set_defaults(func=cmd_backup)

    from ssc_core.ai.precompute_cli import add_precompute_parser  # the AI package's sub-command (cheap)

    add_precompute_parser(sub, rw)


# --- helpers -------------------------------------------------------------------------------------------


def _scan_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    src = p.add_argument_group("scans (one case per CT series)")
    src.add_argument(
        "--scans", type=Path, metavar="DIR", help="a folder of scans: volume files and sub-folders"
    )
    src.add_argument(
        "--list", dest="list_file", type=Path, metavar="FILE", help="a text file, one scan path a line"
    )
    src.add_argument(
        "--skip-bad",
        action="store_true",
        help="add the scans that load even if others fail (default: add none)",
    )
    src.add_argument(
        "--show-paths", action="store_true", help="name problem scans by path (may show identifiers)"
    )
    p.set_defaults(scans_required=required)


def _print_progress(p: Progress) -> None:
    if sys.stderr.isatty():
        end = "\n" if p.total and p.done >= p.total else ""
        print(f"\r{p.message} ...", end=end, file=sys.stderr, flush=True)


def _collect_scans(args: argparse.Namespace) -> ScanImport | None:
    """Load ``--scans`` / ``--list`` (None when neither is given); refuses when a scan fails to load
    (unless ``--skip-bad``), before anything is written."""
    from ssc_core.errors import StudyError
    from ssc_core.study.scans import (
        ScanEntry,
        ScanProblem,
        collect_case_sources,
        folder_entries,
        read_list_file,
    )

    if args.scans is None and args.list_file is None:
        if args.scans_required:
            raise StudyError("Give the scans: --scans DIR (a folder of scans) or --list FILE.")
        return None
    entries: list[ScanEntry] = []
    if args.scans is not None:
        entries += folder_entries(args.scans)
    if args.list_file is not None:
        entries += read_list_file(args.list_file)
    if not entries:
        raise StudyError("No scans were found there (no volume files, no sub-folders, no DICOM files).")
    found = collect_case_sources(entries, progress=_print_progress)

    def name(problem: ScanProblem) -> str:
        text = str(problem)
        return f"{text}  [{entries[problem.entry - 1].path}]" if args.show_paths else text

    for pr in found.problems:
        if not pr.refused:
            print(f"left out (not scorable): {name(pr)}")
    for pr in found.failed:
        print(f"could not load: {name(pr)}", file=sys.stderr)
    if found.failed and not args.skip_bad:
        raise StudyError(
            f"{len(found.failed)} scan(s) could not be loaded; nothing was added.",
            hint="Fix or remove those scans, or add the others with --skip-bad.",
        )
    return found


def _add_found(store: StudyStore, found: ScanImport, by: int) -> int:
    added = store.add_cases(found.sources, by=by, skip_duplicates=True)
    dupes = len(found.sources) - len(added)
    print(
        f"Added {len(added)} case(s)"
        + (f"; {dupes} scan(s) already in the study were skipped" if dupes else "")
        + (f"; {len(found.failed)} scan(s) could not be loaded" if found.failed else "")
        + "."
    )
    return 2 if found.failed else 0


def _open(args: argparse.Namespace, *, readonly: bool = False) -> StudyStore:
    from ssc_core.study.store import open_study

    return open_study(
        args.study, readonly=readonly, allow_network=getattr(args, "allow_network_drive", False)
    )


def _actor(store: StudyStore, args: argparse.Namespace) -> int:
    from ssc_core.errors import StudyError

    if getattr(args, "actor", None):
        return store.reader_by_name(args.actor).id
    admins = [r for r in store.readers() if r.is_admin]
    if len(admins) != 1:
        raise StudyError("This study has several admins; say which one you are with --as NAME.")
    return admins[0].id


def _split(text: str) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


# --- commands ------------------------------------------------------------------------------------------


def cmd_create(args: argparse.Namespace) -> int:
    from ssc_core.study.store import create_study

    path = args.study if args.study.suffix else args.study.with_suffix(STUDY_SUFFIX)
    found = _collect_scans(args)  # load the scans first: a study is not created around a failed import
    with create_study(
        path,
        name=args.name,
        admin=args.admin,
        washout_days=args.washout_days,
        allow_network=args.allow_network_drive,
    ) as store:
        print(
            f"Created study '{store.study.name}' in {path} "
            f"(admin: {args.admin}, washout {args.washout_days} days)."
        )
        return 0 if found is None else _add_found(store, found, store.reader_by_name(args.admin).id)


def cmd_add_cases(args: argparse.Namespace) -> int:
    with _open(args) as store:
        by = _actor(store, args)  # before the slow part: a wrong --as fails at once
        found = _collect_scans(args)
        assert found is not None
        return _add_found(store, found, by)


def cmd_add_reader(args: argparse.Namespace) -> int:
    with _open(args) as store:
        r = store.add_reader(args.name, role=args.role, by=_actor(store, args))
        print(f"Added {r.role.value} {r.name}.")
    return 0


def cmd_add_session(args: argparse.Namespace) -> int:
    with _open(args) as store:
        by = _actor(store, args)
        readers = [store.reader_by_name(n).id for n in _split(args.readers)]
        repeat = store.session_by_label(args.repeat_of).id if args.repeat_of else None
        refs = [store.session_by_label(x).id for x in _split(args.references)]
        cases = [store.case_by_code(c).id for c in _split(args.cases)] or None
        s = store.add_session(
            args.label,
            args.kind,
            readers,
            by=by,
            blinded=not args.unblinded,
            ai_policy=args.ai,
            order_seed=args.seed,
            repeat_of=repeat,
            references=refs,
            cases=cases,
            ai_bundle=args.bundle,
        )
        n = len(store.session_case_ids(s.id))
        print(
            f"Planned {s.kind.display_name} session {s.label}: {len(s.reader_ids)} reader(s), {n} case(s), "
            f"{'blinded' if s.blinded else 'unblinded'}, AI {s.ai_policy.value}. Open it with open-session."
        )
    return 0


def cmd_open_session(args: argparse.Namespace) -> int:
    with _open(args) as store:
        s = store.open_session(store.session_by_label(args.label).id, by=_actor(store, args))
        print(f"Session {s.label} is open.")
    return 0


def cmd_close_session(args: argparse.Namespace) -> int:
    with _open(args) as store:
        s = store.close_session(store.session_by_label(args.label).id, by=_actor(store, args))
        print(f"Session {s.label} is closed.")
    return 0


def cmd_reopen_session(args: argparse.Namespace) -> int:
    with _open(args) as store:
        s = store.reopen_session(
            store.session_by_label(args.label).id, by=_actor(store, args), reason=args.reason
        )
        print(f"Session {s.label} is open again.")
    return 0


def cmd_override_washout(args: argparse.Namespace) -> int:
    with _open(args) as store:
        s = store.session_by_label(args.label)
        r = store.reader_by_name(args.reader)
        store.override_washout(s.id, r.id, by=_actor(store, args), reason=args.reason)
        print(
            f"{r.name} may now work in {s.label} before the washout has passed (recorded in the audit log)."
        )
    return 0


def cmd_exclude_case(args: argparse.Namespace) -> int:
    with _open(args) as store:
        c = store.exclude_case(args.code, by=_actor(store, args), reason=args.reason)
        print(f"Case {c.code} is excluded from reading and analysis (its readings are kept).")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as store:
        st = store.study
        cases = store.cases()
        excluded = sum(1 for c in cases if c.excluded_reason)
        print(f"Study: {st.name}  (format {st.schema_version}, created {st.created_at:%Y-%m-%d})")
        print(
            f"Protocol: washout {st.washout_days} days; disagreement > {st.disagreement_points} points "
            f"or > {st.disagreement_mm:g} mm"
        )
        print(f"Cases: {len(cases)}" + (f" ({excluded} excluded)" if excluded else ""))
        readers = store.readers()
        print(
            "Readers: "
            + (", ".join(f"{r.name}{' (admin)' if r.is_admin else ''}" for r in readers) or "none")
        )
        names = {r.id: r.name for r in readers}
        sessions = store.sessions()
        print("Sessions:" + ("" if sessions else " none"))
        labels = {s.id: s.label for s in sessions}
        for s in sessions:
            extra = f", repeats {labels[s.repeat_of]}" if s.repeat_of else ""
            blinding = "blinded" if s.blinded else "unblinded"
            print(
                f"  {s.label}: {s.kind.display_name}, {s.status.value}, {blinding}, "
                f"AI {s.ai_policy.value}{extra}"
            )
            for rid in s.reader_ids:
                done, total = store._progress(s.id, rid)
                print(f"      {names[rid]}: {done}/{total} submitted")
        print(f"Audit head: {store.audit_head}")
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as store:
        for c in store.cases():
            line = c.code + (f"  EXCLUDED ({c.excluded_reason})" if c.excluded_reason else "")
            if args.sources:
                line += f"  {c.location}" + (f" [series {c.series}]" if c.series else "")
            print(line)
    return 0


def cmd_import_labels(args: argparse.Namespace) -> int:
    from ssc_core.study.importers import import_label_workbook, read_mapping

    mapping = read_mapping(args.mapping) if args.mapping else None
    with _open(args) as store:
        s = import_label_workbook(
            store,
            args.workbook,
            by=_actor(store, args),
            label=args.label,
            reader=args.reader,
            mapping=mapping,
            allow_extra_columns=args.allow_extra_columns,
        )
        print(
            f"Imported {len(store.session_case_ids(s.id))} case(s) "
            f"as the completed consensus session {s.label}."
        )
    return 0


def cmd_import_likert(args: argparse.Namespace) -> int:
    from ssc_core.study.importers import import_likert_json, read_mapping

    mapping = read_mapping(args.mapping) if args.mapping else None
    with _open(args) as store:
        s = import_likert_json(
            store, args.json, by=_actor(store, args), label=args.label, reader=args.reader, mapping=mapping
        )
        print(f"Imported {args.reader}'s ratings into heat-map rating session {s.label}.")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ssc_core.errors import AuditChainBroken

    with _open(args, readonly=True) as store:
        report = store.verify()
        problems = list(report.problems)
        if args.expect_head:
            seq, _, digest = args.expect_head.partition(":")
            row = (
                store.conn.execute("SELECT hash FROM audit WHERE seq = ?", (int(seq),)).fetchone()
                if seq.isdigit()
                else None
            )
            if row is None or row[0] != digest:
                problems.append(
                    f"the expected head {args.expect_head} is not in the chain (history was rewritten)"
                )
        quick = store.integrity_check()
        if quick != ["ok"]:
            problems.append("SQLite integrity check: " + "; ".join(quick[:5]))
        if problems:
            from ssc_core.study.records import VerifyReport

            print(VerifyReport(False, report.audit_rows, report.head, tuple(problems)))
            raise AuditChainBroken(
                f"{args.study.name} does not verify: {len(problems)} problem(s) listed above.",
                hint="Restore a backup; the file was changed outside the workstation.",
            )
        print(report)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from ssc_core.errors import StudyError, StudyLocked
    from ssc_core.study.store import open_study

    if args.dest.exists():
        raise StudyError(f"{args.dest} already exists; choose a new name for the backup.")
    try:
        store = open_study(args.study)
    except StudyLocked:
        store = open_study(args.study, readonly=True)  # in use: back up without writing the audit note
    with store:
        head = store.audit_head
        store.backup(args.dest)
        print(f"Backed up {args.study.name} to {args.dest} (audit head {head}).")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ssc_core.errors import StudyError
    from ssc_core.study.demo import build_demo_study

    if args.patients < 1:
        raise StudyError("The demo study needs at least one patient.")
    if not 64 <= args.matrix <= 1024:
        raise StudyError("--matrix must lie between 64 and 1024 pixels.")
    path = args.out if args.out.suffix else args.out.with_suffix(STUDY_SUFFIX)
    demo = build_demo_study(
        path, scans_dir=args.scans, n_patients=args.patients, matrix=args.matrix, progress=_print_progress
    )
    print(
        f"Built the demo study {demo.study_path} with {demo.n_patients} phantom patient(s); scans in "
        f"{demo.scans_dir}.\nReader: {demo.reader} (sessions {demo.observer_session}, {demo.repeat_session}, "
        f"{demo.rating_session}); admin: {demo.admin}; consensus session {demo.consensus_session}."
    )
    if demo.bundle_hash is None:
        print("No demo AI bundle is installed: the rating session shows heat maps once they are computed.")
    return 0
