package state

import (
	"io"
	"os"
	"path/filepath"
)

const (
	metricsFile = "metrics.json"
	metricsLock = ".metrics.lock"
)

// UpdateMetrics runs f under the metrics lock with the stored metrics (nil when there are none yet) and stores
// what f returns. Every do-fip run is a short process, so counters live here between runs; the lock keeps two
// runs from losing each other's increments, and f runs under it so that whatever f writes from the new data
// (the metrics file) is written in the same order as the data. The file is replaced atomically and synced: a
// crash leaves the previous counts, never a damaged file. It is readable by all (0644): counters are no secret,
// and a run as root must not make them unreadable for keepalived_script.
func (d *Dir) UpdateMetrics(f func(old []byte) ([]byte, error)) error {
	return d.withFileLock(metricsLock, func() error {
		// Unreadable counts start over: Prometheus takes a counter that goes down for a reset.
		old, _ := os.ReadFile(filepath.Join(d.path, metricsFile))
		data, err := f(old)
		if err != nil {
			return err
		}
		return WriteAtomic(filepath.Join(d.path, metricsFile), 0o644, true, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
	})
}
