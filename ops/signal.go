package ops

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext is cancelled by the first SIGINT or SIGTERM, which starts a
// graceful shutdown. A second signal exits at once with status 130, for an
// operator who will not wait.
func SignalContext(parent context.Context, log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			log.Info("shutting down; send the signal again to force exit", "signal", s.String())
			cancel()
		case <-ctx.Done():
			signal.Stop(ch)
			return
		}
		s := <-ch
		log.Error("forced exit", "signal", s.String())
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
