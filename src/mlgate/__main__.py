raise SystemExit(__import__("mlgate.cli", fromlist=["main"]).main())
