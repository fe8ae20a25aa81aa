from __future__ import annotations

from orchrecon.cli import main

raise SystemExit(main())
