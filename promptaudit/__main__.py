from promptaudit.cli import main

raise SystemExit(main())
