from lakegate.cli import main

main()
