"""Size and stack report of the device-loop ELF (`just check-device`).

Code size: the ELF's sections (llvm-size), and the functions' sizes
(llvm-nm) grouped by what they do. Stack: the frame of every function
compiled with `-Z emit-stack-sizes` (llvm-readobj --stack-sizes), and upper
bounds per path. The core has no recursion, so a
call chain holds each function at most once: the sum of the frames of the
functions a path can reach bounds its stack from above. Functions of the
precompiled `core` library carry no record (the report says how many)."""

import re
import subprocess
import sys

SIZE = re.compile(r"Functions: \[(?P<name>[^\]]+)\]\s*\n\s*Size: 0x(?P<size>[0-9A-Fa-f]+)")


def readable(symbol: str) -> str:
    """A v0-mangled Rust symbol as its path words (enough to recognise it):
    the crate hashes (`Cs…_`) dropped, then every length-prefixed identifier."""
    rest, words = re.sub(r"Cs[0-9A-Za-z]+_", "", symbol), []
    while (m := re.search(r"(\d+)", rest)) is not None:
        start, length = m.end(), int(m.group(1))
        word = rest[start : start + length]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word or "-"):
            words.append(word)
            rest = rest[start + length :]
        else:
            rest = rest[start:]
    return "::".join(words[-3:]) or symbol


GROUPS = [
    ("codec v2 encoder (solarwire_core::codec::v2)", ("5codec2v2",)),
    ("envelope v2 sealing and key derivation (solarwire_core::envelope_v2)", ("11envelope_v2",)),
    ("AES-128-CBC (aes, cbc)", ("3aes", "3cbc")),
    ("SHA-256 and HMAC (sha2, hmac)", ("4sha2", "4hmac")),
    ("base64 (base64_simd)", ("11base64_simd",)),
    ("the loop, JSON writing (device_loop, core::fmt)", ("_start", "11device_loop", "3fmt", "3str")),
]


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def sizes(elf: str) -> None:
    """Flash and RAM from the sections; code per group from the symbols."""
    sections = {}
    for line in run("llvm-size", "-A", elf).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    flash = sum(v for k, v in sections.items() if k in (".text", ".rodata", ".data", ".sdata"))
    ram = sum(v for k, v in sections.items() if k in (".data", ".sdata", ".bss", ".sbss"))
    shown = ", ".join(f"{k} {v}" for k, v in sections.items() if k in (".text", ".rodata", ".data", ".sdata", ".bss", ".sbss"))
    print(f"code size: flash {flash} bytes (text + rodata + data), static RAM {ram} bytes ({shown})")
    totals = {label: 0 for label, _ in GROUPS}
    other = 0
    for line in run("llvm-nm", "--print-size", "--radix=d", elf).splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[2].lower() != "t":
            continue
        size, name = int(parts[1]), parts[3]
        label = next((lbl for lbl, keys in GROUPS if any(k in name for k in keys)), None)
        if label is None:
            other += size
        else:
            totals[label] += size
    for label, size in totals.items():
        print(f"  {size:6} {label}")
    print(f"  {other:6} the rest (memcpy, integer division, panics)")


def main(elf: str) -> None:
    sizes(elf)
    text = subprocess.run(
        ["llvm-readobj", "--stack-sizes", elf], check=True, capture_output=True, text=True
    ).stdout
    frames = {m.group("name"): int(m.group("size"), 16) for m in SIZE.finditer(text)}
    if not frames:
        sys.exit("no .stack_sizes records: build with RUSTFLAGS=-Zemit-stack-sizes")
    paths = {
        "codec v2 encode (codec::v2)": lambda s: "5codec2v2" in s,
        "envelope v2 seal (seal_v2, key derivation, AES, SHA-256)": lambda s: any(
            k in s for k in ("11envelope_v2", "3aes", "3cbc", "4sha2", "4hmac")
        ),
    }
    print("stack (frames from -Z emit-stack-sizes; bounds = sums, no recursion):")
    for label, member in paths.items():
        names = [n for n in frames if member(n)]
        print(f"  {label}: <= {sum(frames[n] for n in names)} bytes over {len(names)} functions")
    entry = frames.get("_start", 0)
    print(
        f"  the whole loop (_start's own frame {entry} bytes: uplink state, samples, packet, JSON"
        f" and envelope buffers): <= {sum(frames.values())} bytes over {len(frames)} functions"
    )
    print("  largest frames:")
    for name, size in sorted(frames.items(), key=lambda kv: -kv[1])[:6]:
        print(f"    {size:6} {readable(name)}")


if __name__ == "__main__":
    main(sys.argv[1])
