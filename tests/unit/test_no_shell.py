"""No shell is ever invoked, so no user or buffer text can reach one."""

from __future__ import annotations

import re

from tests.conftest import ROOT

SHELL = re.compile(r"shell\s*=\s*True|os\.system|os\.popen|subprocess\.getoutput|"
                   r"vim\.fn\.system\(|io\.popen|vim\.fn\.systemlist|termopen|:!|vim\.cmd\(['\"]!")


def test_plugin_sources_never_use_a_shell() -> None:
    sources = [*(ROOT / "rplugin").rglob("*.py"), *(ROOT / "lua").rglob("*.lua"),
               *(ROOT / "plugin").rglob("*.lua")]
    assert len(sources) > 20
    offenders = [f"{p.relative_to(ROOT)}: {m.group()}" for p in sources
                 for m in SHELL.finditer(p.read_text(encoding="utf-8"))]
    assert offenders == []
    # The processes it does start get argument lists, not command strings.
    engine = (ROOT / "lua" / "llama_coder" / "engine.lua").read_text(encoding="utf-8")
    assert "vim.fn.jobstart, {" in engine
    health = (ROOT / "lua" / "llama_coder" / "health.lua").read_text(encoding="utf-8")
    assert "vim.system, { python, '-c', script, unpack(names) }" in health
    install = (ROOT / "lua" / "llama_coder" / "install.lua").read_text(encoding="utf-8")
    assert "pcall(vim.system, cmd, {" in install
    assert all(call.startswith("spawn({") or call.startswith("spawn(cmd,")
               for call in re.findall(r"spawn\([^\n]*", install)[1:])
