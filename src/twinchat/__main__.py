from twinchat.cli import main

# The guard matters: prepare's reading process is spawned, and re-imports this module.
if __name__ == "__main__":
    main()
