package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/do-fip/do-fip/metadata"
)

// SelfReporter is a metadata service that can say which droplet it describes (metadata.Client).
type SelfReporter interface {
	Metadata
	DropletID(ctx context.Context) (int, error)
}

// WatchIfSelf returns a watch of mc that answers only once mc is known to describe droplet, checked in the
// background: when the droplet's ID was given rather than asked, the first API request need not wait for the
// metadata service, and a metadata service that describes another droplet must not be taken for the target's.
// Until the check answers, and if it fails, the watch answers errors and the move is followed through the API.
func WatchIfSelf(ctx context.Context, mc SelfReporter, droplet int) Metadata {
	ready := make(chan int, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		id, err := mc.DropletID(cctx)
		if err != nil {
			id = -1
		}
		ready <- id
	}()
	return &lazyWatch{mc: mc, droplet: droplet, ready: ready}
}

type lazyWatch struct {
	mc      SelfReporter
	droplet int
	ready   <-chan int
	mu      sync.Mutex
	self    int // droplet ID the metadata service reported; -1 when it failed
}

var (
	errNotSelf  = errors.New("the metadata service describes another droplet")
	errNotReady = errors.New("not yet known which droplet the metadata service describes")
)

func (w *lazyWatch) Get(ctx context.Context) (*metadata.Metadata, error) {
	w.mu.Lock()
	if w.self == 0 {
		select {
		case w.self = <-w.ready:
		default:
		}
	}
	self := w.self
	w.mu.Unlock()
	switch self {
	case w.droplet:
	case 0:
		return nil, errNotReady
	default:
		return nil, errNotSelf
	}
	return w.mc.Get(ctx)
}
