from promptaudit.entry import main

raise SystemExit(main())
