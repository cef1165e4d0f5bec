from meshward.cli.main import main

main()
