package state

// notice counts how often one cause was seen under one key (say, the keepalived running now).
type notice struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

const noticesFile = "notices.json"

// Noticed counts one more sighting of cause under key and returns how many came before (0 the first time).
// The count starts over when the key changes. It lets a check that runs every few seconds say a problem once
// at the default log level instead of at every run.
func (d *Dir) Noticed(cause, key string) int {
	before := 0
	_ = d.withNamedMutex("notices", func() error {
		m := map[string]notice{}
		if ok, err := d.readJSON(noticesFile, &m); !ok || err != nil {
			m = map[string]notice{}
		}
		n := m[cause]
		if n.Key != key {
			n = notice{Key: key}
		}
		before = n.Count
		n.Count++
		m[cause] = n
		return d.writeJSON(noticesFile, m)
	})
	return before
}
