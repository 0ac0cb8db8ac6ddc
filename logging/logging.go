// Package logging builds do-fip's logger. keepalived throws a hook's stdout and stderr away, so every run also
// logs to syslog/journald (tag do-fip) and, when asked, to a file: a failover that leaves no trace cannot be
// debugged at 3 a.m.
package logging

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Options says where logs go.
type Options struct {
	Level   string    // debug, info, warn, error
	File    string    // append JSON lines here when set
	Syslog  string    // auto, on, off
	Stderr  io.Writer // human-readable lines; nil for none
	Command string    // the subcommand, added to every line
	// Fallback is a file used when neither syslog nor File is available, so that a hook whose stderr
	// keepalived discards still leaves a trace. It is kept under FallbackMax bytes (one old generation).
	Fallback string
}

// FallbackMax bounds the fallback log; past it the file is moved to NAME.1 (replacing an older one).
const FallbackMax = 1 << 20

// Logger is a configured zerolog logger and the sinks to close when the run ends.
type Logger struct {
	zerolog.Logger
	// Record logs to the file and syslog only, for what the command also prints for a person on stderr.
	Record  zerolog.Logger
	closers []io.Closer
	// Problems lists sinks that could not be opened; they are logged to the sinks that could.
	Problems []string
}

// Close flushes and closes the file and syslog sinks.
func (l *Logger) Close() {
	for _, c := range l.closers {
		_ = c.Close()
	}
	l.closers = nil
}

// New opens the sinks. It never fails: a sink that cannot be opened is reported in Problems and on the others,
// because a failover must not stop for want of a log file.
func New(o Options) *Logger {
	l := &Logger{}
	var writers []io.Writer
	if o.File != "" {
		f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			l.Problems = append(l.Problems, fmt.Sprintf("log file: %v", err))
		} else {
			writers = append(writers, f)
			l.closers = append(l.closers, f)
		}
	}
	if o.Syslog == "on" || (o.Syslog == "auto" && syslogAvailable()) {
		w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "do-fip")
		if err != nil {
			l.Problems = append(l.Problems, fmt.Sprintf("syslog: %v", err))
		} else {
			writers = append(writers, zerolog.SyslogLevelWriter(w))
			l.closers = append(l.closers, w)
		}
	}
	if len(writers) == 0 && o.Fallback != "" {
		if fi, err := os.Stat(o.Fallback); err == nil && fi.Size() > FallbackMax {
			_ = os.Rename(o.Fallback, o.Fallback+".1")
		}
		if f, err := os.OpenFile(o.Fallback, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err == nil {
			writers = append(writers, f)
			l.closers = append(l.closers, f)
		}
	}
	level, err := zerolog.ParseLevel(o.Level)
	if err != nil || o.Level == "" {
		level = zerolog.InfoLevel
	}
	build := func(ws []io.Writer) zerolog.Logger {
		ctx := zerolog.New(zerolog.MultiLevelWriter(ws...)).Level(level).With().Timestamp().Int("pid", os.Getpid())
		if o.Command != "" {
			ctx = ctx.Str("cmd", o.Command)
		}
		return ctx.Logger()
	}
	l.Record = build(writers)
	if o.Stderr != nil {
		writers = append(writers, zerolog.ConsoleWriter{Out: o.Stderr, TimeFormat: "15:04:05.000", NoColor: !isTerminal(o.Stderr)})
	}
	l.Logger = build(writers)
	for _, p := range l.Problems {
		l.Warn().Str("event", "log_sink_unavailable").Msg(p)
	}
	return l
}

func syslogAvailable() bool { return SyslogSocket() != "" }

// SyslogSocket is the local syslog socket that syslog "auto" would log to (journald listens on /dev/log too),
// or "" when there is none, as in some containers.
func SyslogSocket() string {
	for _, p := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return p
		}
	}
	return ""
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// Since returns the milliseconds elapsed since t, for the elapsed_ms field.
func Since(t time.Time) int64 { return time.Since(t).Milliseconds() }

// OneLine makes text from outside (an API's error message, a response body, an error) fit one log line: line
// breaks and tabs become spaces, other control characters go, runs of white space fold into one, and a max
// above 0 caps the length in characters. A line that keepalived users read in syslog must not be split or
// forged by what a server sent.
func OneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); max > 0 && len(r) > max {
		s = string(r[:max])
	}
	return s
}
