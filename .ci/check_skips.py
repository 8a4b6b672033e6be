"""Fail when a test skipped for a reason that is not in .ci/allowed-skips.txt (usage: check_skips.py X.xml...)."""
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

allowed = [re.compile(line) for line in (Path(__file__).parent / "allowed-skips.txt").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
bad = []
for xml in sys.argv[1:]:
    for case in ET.parse(xml).getroot().iter("testcase"):
        for skip in case.findall("skipped"):
            msg = skip.get("message") or skip.text or ""
            if not any(p.search(msg) for p in allowed):
                bad.append(f"{case.get('classname')}::{case.get('name')}: {msg.strip()[:200]}")
if bad:
    print(f"CI: {len(bad)} test(s) skipped for a reason not in .ci/allowed-skips.txt:")
    print("\n".join(f"  {b}" for b in bad))
    sys.exit(1)
print("CI: no test skipped outside .ci/allowed-skips.txt")
