"""The machine a benchmark ran on, as its JSON records it: speeds are only comparable
between runs on the same CPU, and int8 and bfloat16 speed hinge on its instruction sets."""

import os
import platform
from pathlib import Path
from typing import Dict

# The instruction sets int8 (VNNI, AMX-INT8) and bfloat16 (AVX-512 BF16, AMX-BF16) kernels use.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> Dict[str, object]:
    """The CPU's model name and which of SPEED_FLAGS it has, as Linux reports them;
    nothing where /proc/cpuinfo does not exist."""
    if not cpuinfo.exists():
        return {}
    fields: Dict[str, str] = {}
    for line in cpuinfo.read_text(encoding="utf8", errors="replace").splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = fields.get("flags", "").split()
    return {"cpu": fields.get("model name", ""), "cpu_flags": [flag for flag in SPEED_FLAGS if flag in flags]}


def machine_description() -> Dict[str, object]:
    """Platform, CPU model and flags, and the number of CPUs."""
    return {"platform": platform.platform(), **cpu_description(), "cpus": os.cpu_count()}
