package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// WriteAtomic replaces path with what write produces. It writes a temp file in the same directory and renames
// it over path once complete, so a reader (node_exporter, status, the next run) sees the old file or the new
// one, never a part, even when the process is killed mid-write. The file gets mode (whatever the umask); with
// sync it is flushed to disk before the rename, so a power cut leaves the old or the new content too.
func WriteAtomic(path string, mode os.FileMode, sync bool, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// The temp name must not end like the real one: node_exporter reads every *.prom in its directory.
	pattern := "." + base + ".*.tmp"
	removeStaleTemps(filepath.Join(dir, pattern))
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPathErr(err))
	}
	tmp := f.Name()
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, unwrapPathErr(err))
	}
	return nil
}

// removeStaleTemps removes temp files that a killed run left behind. Only old ones: a young one may be another
// run's write in progress.
func removeStaleTemps(pattern string) {
	names, _ := filepath.Glob(pattern)
	for _, n := range names {
		if fi, err := os.Lstat(n); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(n)
		}
	}
}

// withFileLock runs f holding the exclusive flock of the lock file name in the directory. The lock file is
// opened read-only and created 0644, so that a run as another user (root running assign by hand) can still
// take a lock that keepalived_script created, and the other way round.
func (d *Dir) withFileLock(name string, f func() error) error {
	fh, err := os.OpenFile(filepath.Join(d.path, name), os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnusable, unwrapPathErr(err))
	}
	defer fh.Close()
	for {
		err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
	return f()
}
