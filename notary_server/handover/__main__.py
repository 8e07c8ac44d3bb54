"""``python -m notary_server.handover``."""

from notary_server.handover.cli import main

raise SystemExit(main())
