// Command opjournal migrates, verifies, exports and inspects opjournal
// stores. Its verbs live in package command; see `opjournal --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/felhom/opjournal/cmd/opjournal/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := command.Execute(ctx, command.NewRootCommand(os.Stdout, os.Stderr), os.Args[1:])
	stop()
	os.Exit(code)
}
