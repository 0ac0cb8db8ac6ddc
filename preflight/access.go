package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ident is who keepalived runs a hook as: a user and one group. keepalived clears the supplementary groups,
// so membership in other groups does not count.
type ident struct {
	user, group string
	uid, gid    int
	why         string // where keepalived takes it from
}

func (id ident) String() string { return id.user + ":" + id.group }

// lookupIdent resolves a user and an optional group (default: the user's primary group).
func lookupIdent(name, group string) (ident, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return ident{}, err
	}
	id := ident{user: name}
	id.uid, _ = strconv.Atoi(u.Uid)
	gid := u.Gid
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return ident{}, err
		}
		gid = g.Gid
	}
	id.gid, _ = strconv.Atoi(gid)
	id.group = groupName(id.gid)
	return id, nil
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// Access bits, as in a file mode's "other" triplet.
const (
	accX fs.FileMode = 1
	accW fs.FileMode = 2
	accR fs.FileMode = 4
)

// owner returns a file's uid and gid.
func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// describe is "root:keepalived_script 0640" for a file.
func describe(fi fs.FileInfo) string {
	uid, gid := owner(fi)
	return fmt.Sprintf("%s:%s %04o", userName(uid), groupName(gid), fi.Mode().Perm())
}

// allowed says whether id may access a file with these bits, by the kernel's rule: the owner's bits if the
// user owns it, else the group's if the group matches, else the others'. Root may do anything (keepalived
// runs root's hooks with full capabilities). ACLs are not read.
func allowed(id ident, fi fs.FileInfo, want fs.FileMode) bool {
	if id.uid == 0 {
		return true
	}
	uid, gid := owner(fi)
	perm := fi.Mode().Perm()
	var bits fs.FileMode
	switch {
	case uid == id.uid:
		bits = perm >> 6
	case gid == id.gid:
		bits = perm >> 3
	default:
		bits = perm
	}
	return bits&7&want == want
}

// errDenied names the path that stops the hook's user and its owner and mode.
type errDenied struct {
	path string
	fi   fs.FileInfo
	what string // "search", "read", "write"
}

func (e *errDenied) Error() string {
	return fmt.Sprintf("no %s permission on %s (%s)", e.what, e.path, describe(e.fi))
}

// canAccess checks that id can reach p (search on every directory above it) and access it with want.
func canAccess(p string, id ident, want fs.FileMode) error {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	real, _ = filepath.Abs(real)
	dirs := []string{}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
		if d == "/" || d == "." {
			break
		}
	}
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !allowed(id, fi, accX) {
			return &errDenied{path: d, fi: fi, what: "search (x)"}
		}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !allowed(id, fi, want) {
		what := "read"
		if want&accW != 0 {
			what = "write"
		}
		return &errDenied{path: real, fi: fi, what: what}
	}
	return nil
}

// unsafePath applies keepalived's enable_script_security rule (lib/notify.c, check_security) to a script
// path and to the file it resolves to: every element must be owned by root, and a directory without the
// sticky bit, or the file, must not be writable by a non-root group or by others. It returns the first
// element that breaks the rule, with why.
func unsafePath(p string) (string, string, error) {
	paths := []string{p}
	if real, err := filepath.EvalSymlinks(p); err == nil && real != p {
		paths = append(paths, real)
	}
	for _, full := range paths {
		elems := []string{"/"}
		acc := "/"
		for _, part := range strings.Split(strings.Trim(full, "/"), "/") {
			acc = filepath.Join(acc, part)
			elems = append(elems, acc)
		}
		for i, e := range elems {
			fi, err := os.Lstat(e)
			if err != nil {
				return "", "", err
			}
			last := i == len(elems)-1
			if !last && !fi.IsDir() {
				return e, "is not a directory", nil
			}
			uid, gid := owner(fi)
			mode := fi.Mode()
			if uid != 0 {
				return e, fmt.Sprintf("is owned by %s, not root (%s)", userName(uid), describe(fi)), nil
			}
			checked := (fi.IsDir() && mode&fs.ModeSticky == 0) || mode.IsRegular()
			if checked && ((gid != 0 && mode.Perm()&0o020 != 0) || mode.Perm()&0o002 != 0) {
				by := "others"
				if mode.Perm()&0o002 == 0 {
					by = "group " + groupName(gid)
				}
				return e, fmt.Sprintf("is writable by %s (%s)", by, describe(fi)), nil
			}
		}
	}
	return "", "", nil
}

// isNotExist is errors.Is(err, fs.ErrNotExist).
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
