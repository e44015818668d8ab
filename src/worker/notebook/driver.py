"""Kairos notebook driver: runs one notebook job with Jupyter's own execution library (nbclient).

Run by the worker with the job environment's interpreter, argv only, no shell:

    python3 -u -c <this file's text> <spec as JSON>

The spec: {"notebook": path, "kernel": name or null, "cell_timeout": seconds or null,
"params": [{"name", "type", "value"}], "artifacts": dir, "result": file}.

- The job's typed parameters become one new cell, tagged `injected-parameters`, right after the cell tagged
  `parameters` (papermill's convention). Each value is written with Python's own repr() of the value decoded
  from JSON, so no text a user gave is ever spliced into code.
- Cell outputs are printed as the kernel sends them (stream text, results, errors), so the run's log follows
  the notebook live.
- The executed notebook (<name>.ipynb) and its HTML rendering (<name>.html, when nbconvert is there) are
  written into the artifacts folder whatever happens: success, a failing cell, a cell timeout, TERM.
- How it ended goes to the result file as JSON ({"reason": ..., "cell": n}), which the worker reads for the
  run's reason.

Exit codes: 0 ok; 1 a cell failed or timed out; 3 the environment lacks nbclient/ipykernel, the notebook or
the kernel cannot be used; 143 stopped by TERM.
"""
import asyncio
import json
import keyword
import os
import signal
import sys
import tempfile
import traceback

SPEC = json.loads(sys.argv[1])
RESULT_FILE = SPEC.get("result")


def say(line):
    """A line of Kairos' own in the run's log (stderr, so it is told apart from the notebook's stdout)."""
    sys.stderr.write("[notebook] " + line + "\n")
    sys.stderr.flush()


def write_result(reason, cell=None):
    if not RESULT_FILE:
        return
    try:
        with open(RESULT_FILE, "w", encoding="utf-8") as f:
            json.dump({"reason": reason, "cell": cell}, f)
    except OSError as e:
        say("could not write the notebook's result: %s" % e)


def give_up(reason, code=3):
    say(reason)
    write_result(reason)
    sys.exit(code)


try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbclient.util import ensure_async
    from jupyter_client.kernelspec import NoSuchKernel
except ImportError as e:
    give_up(
        "notebook jobs need nbclient, nbformat and ipykernel in the job's environment (%s): "
        "install them with its requirements, or use a python environment with system_site_packages: true "
        "on a machine that has them (Debian: python3-nbclient python3-ipykernel jupyter-nbconvert); "
        "interpreter %s" % (e, sys.executable)
    )

NATIVE_KERNEL = "python3"


def private_dirs():
    """Jupyter's and IPython's state go to a private temporary folder: the home folder may be read-only
    (sandbox) or shared by runs. The `python3` kernel is this interpreter (the job's environment), not
    whatever a system-wide kernelspec names."""
    base = tempfile.mkdtemp(prefix="kairos-nb-")
    os.environ.setdefault("JUPYTER_RUNTIME_DIR", os.path.join(base, "runtime"))
    os.environ.setdefault("IPYTHONDIR", os.path.join(base, "ipython"))
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    spec_dir = os.path.join(base, "data", "kernels", NATIVE_KERNEL)
    os.makedirs(spec_dir)
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as f:
        json.dump({
            "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (job environment)",
            "language": "python",
        }, f)
    paths = [os.path.join(base, "data")]
    if os.environ.get("JUPYTER_PATH"):
        paths.append(os.environ["JUPYTER_PATH"])
    os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)
    return base


def python_literal(param):
    """The value as a Python literal: repr() of the value decoded from JSON, of the param's type."""
    t, v = param["type"], param["value"]
    if t == "integer":
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("param %s: expected an integer, got %r" % (param["name"], v))
        return repr(int(v))
    if t == "number":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError("param %s: expected a number, got %r" % (param["name"], v))
        return repr(float(v))
    if t == "boolean":
        if not isinstance(v, bool):
            raise ValueError("param %s: expected true or false, got %r" % (param["name"], v))
        return repr(v)
    # string and date (YYYY-MM-DD): a str
    if not isinstance(v, str):
        raise ValueError("param %s: expected a string, got %r" % (param["name"], v))
    return repr(v)


def parameters_cell(params):
    lines = ["# Parameters (injected by Kairos)"]
    for p in params:
        name = p["name"]
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError("param %s is not a Python variable name" % name)
        lines.append("%s = %s" % (name, python_literal(p)))
    cell = nbformat.v4.new_code_cell(source="\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    return cell


def inject(nb, params):
    """Papermill's convention: after the first cell tagged `parameters`; at the top when there is none."""
    if not params:
        return
    cell = parameters_cell(params)
    for i, c in enumerate(nb.cells):
        if "parameters" in c.get("metadata", {}).get("tags", []):
            nb.cells.insert(i + 1, cell)
            return
    say("no cell is tagged `parameters`: the parameters go in a new first cell")
    nb.cells.insert(0, cell)


def text_of(out):
    """What one output shows as text in the log."""
    kind = out.get("output_type")
    if kind == "stream":
        return out.get("text", "")
    if kind in ("execute_result", "display_data"):
        data = out.get("data", {})
        if "text/plain" in data:
            t = data["text/plain"]
            return (t if isinstance(t, str) else "".join(t)) + "\n"
        kinds = ", ".join(sorted(data)) or "nothing"
        return "<%s>\n" % kinds
    if kind == "error":
        return "\n".join(out.get("traceback", [])) + "\n"
    return ""


class Client(NotebookClient):
    """nbclient's client, printing each output as the kernel sends it."""

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None:
            text = text_of(out)
            if text:
                stream = sys.stderr if out.get("output_type") == "stream" and out.get("name") == "stderr" else sys.stdout
                stream.write(text)
                stream.flush()
        return out


def choose_kernel(nb):
    if SPEC.get("kernel"):
        return SPEC["kernel"]
    ks = nb.metadata.get("kernelspec", {}) or {}
    language = ks.get("language") or (nb.metadata.get("language_info", {}) or {}).get("name") or "python"
    # A Python notebook runs in the job's environment, whatever kernel name it was saved with on a laptop.
    if language == "python" or not ks.get("name"):
        return NATIVE_KERNEL
    return ks["name"]


def save(nb, path, html_path):
    try:
        nbformat.write(nb, path)
    except Exception as e:  # noqa: BLE001 - the run goes on to report its own failure
        say("could not write the executed notebook: %s" % e)
        return
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        say("nbconvert is not in the job's environment: no HTML rendering of the notebook")
        return
    try:
        body, _ = HTMLExporter().from_notebook_node(nb)
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(body)
    except Exception as e:  # noqa: BLE001
        say("could not render the notebook as HTML: %s" % e)


# Set by TERM/INT: nbclient turns the cancelled wait into DeadKernelError, which is then ours.
STOPPING = {"yes": False}


def first_line(s):
    s = (s or "").strip()
    return s.splitlines()[0] if s else ""


async def execute(client, nb, code_cells):
    """Every cell in order (as nbclient's execute does), with a header line per code cell."""
    task = asyncio.current_task()
    async with client.async_setup_kernel():
        # nbclient's own TERM handler only cleans up the kernel: stop the execution too, so the notebook
        # so far is saved and the kernel shut down before the place's KILL.
        loop = asyncio.get_running_loop()
        def stop():
            STOPPING["yes"] = True
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, stop)
        loop.add_signal_handler(signal.SIGINT, stop)
        msg_id = await ensure_async(client.kc.kernel_info())
        info = await client.async_wait_for_reply(msg_id)
        if info is not None and "language_info" in info["content"]:
            nb.metadata["language_info"] = info["content"]["language_info"]
        n = 0
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and cell.source.strip():
                n += 1
                say("cell %d of %d (code cell %d of %d)" % (index + 1, len(nb.cells), n, code_cells))
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)


def on_term(signum, frame):
    # Until the kernel runs (then `execute` takes TERM over): stop, and still keep the notebook.
    STOPPING["yes"] = True
    raise KeyboardInterrupt()


def main():
    signal.signal(signal.SIGTERM, on_term)
    path = SPEC["notebook"]
    stem = os.path.splitext(os.path.basename(path))[0]
    artifacts = SPEC.get("artifacts") or os.environ.get("KAIROS_ARTIFACTS") or "."
    os.makedirs(artifacts, exist_ok=True)
    out_nb = os.path.join(artifacts, stem + ".ipynb")
    out_html = os.path.join(artifacts, stem + ".html")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001
        give_up("cannot read the notebook %s: %s" % (SPEC.get("display") or path, first_line(str(e)) or type(e).__name__))
    try:
        inject(nb, SPEC.get("params") or [])
    except ValueError as e:
        give_up(str(e))
    private_dirs()
    kernel = choose_kernel(nb)
    timeout = SPEC.get("cell_timeout")
    # nbclient counts whole seconds.
    timeout = max(1, int(-(-timeout // 1))) if timeout else None
    client = Client(
        nb,
        kernel_name=kernel,
        timeout=timeout if timeout else None,
        startup_timeout=120,
        resources={"metadata": {"path": os.getcwd()}},
    )
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip())
    say("notebook %s: %d cells, kernel %s%s" % (SPEC.get("display") or path, len(nb.cells), kernel, ", %g s a cell at most" % timeout if timeout else ""))
    current = {"index": None}

    def on_start(cell, cell_index):
        current["index"] = cell_index

    client.on_cell_start = on_start
    reason, cell_no, code = None, None, 0
    try:
        asyncio.run(execute(client, nb, code_cells))
    except CellTimeoutError:
        cell_no = (current["index"] or 0) + 1
        reason = "cell %d timed out: it ran longer than cell_timeout (%g s)" % (cell_no, timeout)
        code = 1
    except CellExecutionError as e:
        cell_no = (current["index"] or 0) + 1
        err = "%s: %s" % (e.ename, e.evalue) if e.evalue else e.ename
        reason = "cell %d failed: %s" % (cell_no, err)
        code = 1
    except DeadKernelError:
        cell_no = (current["index"] or 0) + 1 if current["index"] is not None else None
        if STOPPING["yes"]:
            reason = "stopped at cell %d" % cell_no if cell_no else "stopped before the first cell"
            code = 143
        else:
            reason = "cell %d: the kernel died (out of memory, or the code exited it)" % (cell_no or 0)
            code = 1
    except NoSuchKernel:
        from jupyter_client.kernelspec import KernelSpecManager
        known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        reason = "no kernel named %r in the job's environment (kernels there: %s)" % (kernel, known)
        code = 3
    except (asyncio.CancelledError, KeyboardInterrupt):
        cell_no = (current["index"] or 0) + 1 if current["index"] is not None else None
        reason = "stopped at cell %d" % cell_no if cell_no else "stopped before the first cell"
        code = 143
    except Exception as e:  # noqa: BLE001 - kernel start failures and the like
        reason = "the notebook could not run: %s: %s" % (type(e).__name__, first_line(str(e)))
        if "ipykernel" in str(e) or isinstance(e, ModuleNotFoundError):
            reason += " (is ipykernel installed in the job's environment?)"
        traceback.print_exc()
        code = 3
    if reason is not None:
        say(reason)
        write_result(reason, cell_no)
    save(nb, out_nb, out_html)
    say("executed notebook kept as %s%s" % (os.path.basename(out_nb), " and %s" % os.path.basename(out_html) if os.path.exists(out_html) else ""))
    sys.exit(code)


main()
