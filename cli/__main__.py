from kinhub.cli.app import main

main()
