package preflight

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Stmt is one keepalived.conf statement: a keyword and its words on one line, and the block that follows it,
// if any.
type Stmt struct {
	File     string
	Line     int
	Words    []Word
	Children []*Stmt
}

// Word is one word of a statement as keepalived splits it: quotes removed, Quoted when it was written in
// quotes (a quoted command is one word, however many spaces it holds).
type Word struct {
	Text   string
	Quoted bool
}

// Keyword is the statement's first word.
func (s *Stmt) Keyword() string {
	if len(s.Words) == 0 {
		return ""
	}
	return s.Words[0].Text
}

// Arg returns word i (1 is the first after the keyword), or "".
func (s *Stmt) Arg(i int) string {
	if i < len(s.Words) {
		return s.Words[i].Text
	}
	return ""
}

// Where is "file:line" for messages.
func (s *Stmt) Where() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Source is the statement as keepalived saw it, quotes put back, for messages.
func (s *Stmt) Source() string {
	var parts []string
	for _, w := range s.Words {
		if w.Quoted {
			parts = append(parts, `"`+w.Text+`"`)
		} else {
			parts = append(parts, w.Text)
		}
	}
	return strings.Join(parts, " ")
}

// Find returns the children with the keyword.
func (s *Stmt) Find(keyword string) []*Stmt {
	var out []*Stmt
	for _, c := range s.Children {
		if c.Keyword() == keyword {
			out = append(out, c)
		}
	}
	return out
}

// First returns the first child with the keyword, or nil.
func (s *Stmt) First(keyword string) *Stmt {
	if f := s.Find(keyword); len(f) > 0 {
		return f[0]
	}
	return nil
}

// Conf is a parsed keepalived.conf with its includes.
type Conf struct {
	Files    []string // every file read, in order
	Top      []*Stmt
	Problems []string // include globs that matched nothing, unbalanced braces, unterminated quotes
}

// Find returns the top-level statements with the keyword.
func (c *Conf) Find(keyword string) []*Stmt {
	return (&Stmt{Children: c.Top}).Find(keyword)
}

// maxIncludeDepth bounds include nesting (a file including itself would otherwise never end).
const maxIncludeDepth = 8

// maxConfFile bounds one file; a keepalived.conf is a few KiB.
const maxConfFile = 1 << 20

// ParseConf reads a keepalived.conf the way keepalived does: '#' and '!' start a comment outside quotes
// (`\#` and `\!` are literal), a line ending in '\' continues on the next, "..." (and '...') keep spaces in
// one word, '{' and '}' open and close blocks whether on the keyword's line or the next, `$NAME=value`
// defines a value that `$NAME` and `${NAME}` are replaced with, and `include GLOB` reads every file the glob
// matches, a relative glob from the directory of the file that names it (keepalived changes into it).
func ParseConf(path string) (*Conf, error) {
	p := &confParser{conf: &Conf{}, defs: map[string]string{}}
	lines, err := p.read(path, 0)
	if err != nil {
		return nil, err
	}
	p.build(lines)
	return p.conf, nil
}

type confLine struct {
	file  string
	line  int
	words []Word // '{' and '}' outside quotes are words of their own, unquoted
}

type confParser struct {
	conf *Conf
	defs map[string]string
}

var includeRe = regexp.MustCompile(`^include[rambw]?$`)

func (p *confParser) read(path string, depth int) ([]confLine, error) {
	if depth > maxIncludeDepth {
		return nil, fmt.Errorf("%s: includes nested more than %d deep (an include loop?)", path, maxIncludeDepth)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	p.conf.Files = append(p.conf.Files, path)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxConfFile)
	var out []confLine
	n, start := 0, 0
	var pending string
	for sc.Scan() {
		n++
		text := decomment(sc.Text())
		if strings.HasSuffix(text, `\`) {
			if pending == "" {
				start = n
			}
			pending += strings.TrimSuffix(text, `\`) + " "
			continue
		}
		at := n
		if pending != "" {
			text, at, pending = pending+text, start, ""
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.HasPrefix(text, "$") {
			if name, value, ok := strings.Cut(text[1:], "="); ok && validDefName(strings.TrimSpace(name)) {
				p.defs[strings.TrimSpace(name)] = strings.TrimSpace(value)
				continue
			}
		}
		text = p.expand(text)
		words, qerr := splitWords(text)
		if qerr != nil {
			p.conf.Problems = append(p.conf.Problems, fmt.Sprintf("%s:%d: %v", path, at, qerr))
		}
		if len(words) > 0 && includeRe.MatchString(words[0].Text) && !words[0].Quoted {
			pattern := strings.TrimSpace(strings.TrimPrefix(text, words[0].Text))
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, err := filepath.Glob(pattern)
			if err != nil || len(matches) == 0 {
				p.conf.Problems = append(p.conf.Problems, fmt.Sprintf("%s:%d: include %s matches no file", path, at, pattern))
				continue
			}
			sort.Strings(matches)
			for _, m := range matches {
				sub, err := p.read(m, depth+1)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: include: %w", path, at, err)
				}
				out = append(out, sub...)
			}
			continue
		}
		out = append(out, confLine{file: path, line: at, words: words})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func validDefName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// expand replaces $NAME and ${NAME} with their definitions; unknown names stay as written.
func (p *confParser) expand(s string) string {
	if !strings.Contains(s, "$") || len(p.defs) == 0 {
		return s
	}
	names := make([]string, 0, len(p.defs))
	for n := range p.defs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) }) // longest first
	for _, n := range names {
		s = strings.ReplaceAll(s, "${"+n+"}", p.defs[n])
		s = strings.ReplaceAll(s, "$"+n, p.defs[n])
	}
	return s
}

// decomment cuts a line at the first '#' or '!' outside double quotes, as keepalived's parser does; `\#` and
// `\!` outside quotes stand for the characters themselves.
func decomment(line string) string {
	var b strings.Builder
	quote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && !quote && i+1 < len(line) && (line[i+1] == '#' || line[i+1] == '!'):
			i++
			c = line[i]
		case !quote && (c == '#' || c == '!'):
			return strings.TrimRight(b.String(), " \t")
		}
		b.WriteByte(c)
	}
	return strings.TrimRight(b.String(), " \t")
}

var errQuote = errors.New("unterminated quote")

// splitWords splits a line into words: white space separates, "..." and '...' keep a word together (and
// mark it quoted), a backslash escapes the next character, and '{' and '}' outside quotes are words of their
// own.
func splitWords(s string) ([]Word, error) {
	var out []Word
	var cur strings.Builder
	inWord, quoted := false, false
	var quote byte
	flush := func() {
		if inWord {
			out = append(out, Word{Text: cur.String(), Quoted: quoted})
		}
		cur.Reset()
		inWord, quoted = false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
			if cur.Len() == 0 {
				quoted = true
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			flush()
		case c == '{' || c == '}':
			flush()
			out = append(out, Word{Text: string(c)})
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		flush()
		return out, errQuote
	}
	flush()
	return out, nil
}

// build turns lines into statements and blocks.
func (p *confParser) build(lines []confLine) {
	root := &Stmt{}
	stack := []*Stmt{root}
	var last *Stmt // the last statement at the current level, for a '{' on the next line
	for _, l := range lines {
		var words []Word
		flush := func() {
			if len(words) > 0 {
				s := &Stmt{File: l.file, Line: l.line, Words: words}
				top := stack[len(stack)-1]
				top.Children = append(top.Children, s)
				last = s
			}
			words = nil
		}
		for _, w := range l.words {
			switch {
			case w.Text == "{" && !w.Quoted:
				opener := last
				if len(words) > 0 {
					flush()
					opener = last
				}
				if opener == nil {
					opener = &Stmt{File: l.file, Line: l.line}
					p.conf.Problems = append(p.conf.Problems, fmt.Sprintf("%s:%d: '{' without a keyword", l.file, l.line))
				}
				stack = append(stack, opener)
				last = nil
			case w.Text == "}" && !w.Quoted:
				flush()
				if len(stack) == 1 {
					p.conf.Problems = append(p.conf.Problems, fmt.Sprintf("%s:%d: extra '}'", l.file, l.line))
					continue
				}
				last = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			default:
				words = append(words, w)
			}
		}
		flush()
	}
	if len(stack) > 1 {
		s := stack[1]
		p.conf.Problems = append(p.conf.Problems, fmt.Sprintf("%s:%d: the block of %q is never closed", s.File, s.Line, s.Keyword()))
	}
	p.conf.Top = root.Children
}
