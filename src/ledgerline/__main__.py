from ledgerline.cli import main

raise SystemExit(main())
