from twinchat.cli import main

main()
