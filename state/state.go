// Package state owns do-fip's state directory: per-IP lock files that keep two runs on one node from fighting
// over an IP, and the records of the last runs that `do-fip status` shows.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/do-fip/do-fip/backoff"
)

// ErrUnusable means the state directory cannot be created or written.
var ErrUnusable = errors.New("state directory unusable")

// Dir is an open state directory.
type Dir struct {
	path     string
	onAssign func(AssignRecord)
}

// Open creates the directory if needed (mode 0750) and checks that this user can write to it. The check runs
// before any API request, so a broken state dir is reported at once instead of after the IP moved.
func Open(path string) (*Dir, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no path given", ErrUnusable)
	}
	if err := os.MkdirAll(path, 0o750); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnusable, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnusable, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrUnusable, path)
	}
	f, err := os.CreateTemp(path, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not writable by uid %d: %v", ErrUnusable, path, os.Geteuid(), unwrapPathErr(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return &Dir{path: path}, nil
}

// OpenReadOnly opens an existing state directory for reading records (status); it never creates anything.
func OpenReadOnly(path string) *Dir { return &Dir{path: path} }

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ipName turns an IP into a file-name-safe token (IPv6 colons become dashes).
func ipName(ip netip.Addr) string { return strings.ReplaceAll(ip.String(), ":", "-") }

// Lock is a held per-IP lock.
type Lock struct {
	f *os.File
}

// Unlock releases the lock. The kernel releases it too if the process dies, so a killed hook never leaves a
// stale lock behind.
// MarkMoved notes in the lock file when the holder moved the IP: a run that read the metadata service before
// taking the lock learns from MovedSince that its view may be stale.
func (l *Lock) MarkMoved() {
	if l == nil || l.f == nil {
		return
	}
	if err := l.f.Truncate(0); err == nil {
		_, _ = l.f.WriteAt([]byte(strconv.FormatInt(time.Now().UnixNano(), 10)+"\n"), 0)
	}
}

// MovedSince says whether a holder of the lock marked a move after t. No mark (a new lock file) is no move; a
// mark that cannot be read may be one.
func (l *Lock) MovedSince(t time.Time) bool {
	if l == nil || l.f == nil {
		return true
	}
	b := make([]byte, 32)
	n, err := l.f.ReadAt(b, 0)
	if n == 0 && errors.Is(err, io.EOF) {
		return false
	}
	ns, perr := strconv.ParseInt(strings.TrimSpace(string(b[:n])), 10, 64)
	return perr != nil || time.Unix(0, ns).After(t)
}

func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}

// openLock opens (creating it if needed) the file whose flock is ip's lock.
func (d *Dir) openLock(ip netip.Addr) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(d.path, "lock-"+ipName(ip)), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w: %v", ip, ErrUnusable, unwrapPathErr(err))
	}
	return f, nil
}

// LockIP takes the exclusive lock for ip, waiting until it is free or ctx ends. flock(2) locks belong to the open
// file, so they are released when the holder exits for any reason.
func (d *Dir) LockIP(ctx context.Context, ip netip.Addr) (*Lock, error) {
	f, err := d.openLock(ip)
	if err != nil {
		return nil, err
	}
	poll := backoff.Policy{Min: 2 * time.Millisecond, Max: 50 * time.Millisecond}
	for attempt := 1; ; attempt++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", ip, err)
		}
		if err := backoff.Sleep(ctx, poll.Wait(attempt)); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: waiting for another do-fip run: %w", ip, err)
		}
	}
}

// TryLockIP takes ip's lock only if it is free at once; ok is false when another run holds it.
func (d *Dir) TryLockIP(ip netip.Addr) (l *Lock, ok bool, err error) {
	f, err := d.openLock(ip)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", ip, err)
	}
	return &Lock{f: f}, true, nil
}

// IPResult is the outcome of one IP in a run.
type IPResult struct {
	IP         string `json:"ip"`
	Result     string `json:"result"` // moved, already_held, error
	ActionID   int    `json:"action_id,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// AssignRecord is what the last assign on this node did.
type AssignRecord struct {
	Time       time.Time  `json:"time"`
	Trigger    string     `json:"trigger"` // the command line's verb: assign, notify MASTER, reconcile
	DropletID  int        `json:"droplet_id"`
	Result     string     `json:"result"` // ok or error
	ExitCode   int        `json:"exit_code"`
	DurationMS int64      `json:"duration_ms"`
	Requests   int64      `json:"api_requests"`
	Error      string     `json:"error,omitempty"`
	IPs        []IPResult `json:"ips"`
}

const lastAssignFile = "last-assign.json"

// WriteLastAssign replaces the record of the last assign atomically (write a temp file, then rename), and
// hands it to the function set with ObserveAssigns.
func (d *Dir) WriteLastAssign(r AssignRecord) error {
	if d.onAssign != nil {
		d.onAssign(r)
	}
	return d.writeJSON(lastAssignFile, r)
}

// ObserveAssigns makes WriteLastAssign hand every record to f too: this run's history entry and metrics are
// built from the same record that status shows.
func (d *Dir) ObserveAssigns(f func(AssignRecord)) { d.onAssign = f }

// LastAssign reads the record of the last assign; it returns (nil, nil) when there is none.
func (d *Dir) LastAssign() (*AssignRecord, error) {
	var r AssignRecord
	ok, err := d.readJSON(lastAssignFile, &r)
	if !ok {
		return nil, err
	}
	return &r, err
}

// writeJSON replaces name with v, readable by the group so an operator in keepalived_script's group can run
// status.
func (d *Dir) writeJSON(name string, v any) error { return d.writeJSONMode(name, v, 0o640) }

func (d *Dir) writeJSONMode(name string, v any, mode os.FileMode) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteAtomic(filepath.Join(d.path, name), mode, false, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

func (d *Dir) readJSON(name string, v any) (bool, error) {
	data, err := os.ReadFile(filepath.Join(d.path, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("read %s: %w", name, unwrapPathErr(err))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("read %s: %w", name, err)
	}
	return true, nil
}
