// Command lds-service is the platform's document API in front of Triton:
// it takes a document image (multipart or JSON base64), runs the configured
// Triton model or ensemble over KServe v2 and returns the outputs as JSON.
// It is configured through environment variables (see config.go and
// docs/inference.md) and shuts down gracefully on SIGTERM.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lds-service: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("listen", "addr", cfg.Listen, "err", err)
		os.Exit(1)
	}
	if err := serve(ctx, ln, cfg, log); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
