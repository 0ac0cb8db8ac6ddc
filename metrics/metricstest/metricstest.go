// Package metricstest reads metrics files with Prometheus' own text-format parser, for tests: what node_exporter
// accepts is what the tests see.
package metricstest

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// File is a parsed metrics file: each sample's value by its series (`name{label="value",...}`, labels sorted),
// and each family's type (gauge, counter).
type File struct {
	Samples map[string]float64
	Types   map[string]string
	List    []Sample
}

// Sample is one series' value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Parse parses the text exposition format.
func Parse(r io.Reader) (*File, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	f := &File{Samples: map[string]float64{}, Types: map[string]string{}}
	for name, fam := range fams {
		f.Types[name] = strings.ToLower(fam.GetType().String())
		for _, m := range fam.GetMetric() {
			var v float64
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			default:
				return nil, fmt.Errorf("%s: unexpected type %s", name, fam.GetType())
			}
			var labels []string
			smp := Sample{Name: name, Labels: map[string]string{}, Value: v}
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
				smp.Labels[l.GetName()] = l.GetValue()
			}
			f.List = append(f.List, smp)
			slices.Sort(labels)
			f.Samples[Series(name, labels...)] = v
		}
	}
	return f, nil
}

// ReadFile parses the metrics file at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Parse(fh)
}

// Series names one series: name and `label="value"` pairs, which must be sorted.
func Series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	return name + "{" + strings.Join(labels, ",") + "}"
}

// L builds sorted `label="value"` pairs from label, value arguments.
func L(pairs ...string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, pairs[i]+"="+strconv.Quote(pairs[i+1]))
	}
	slices.Sort(out)
	return out
}

// Get returns the value of name with labels (label, value pairs) and whether it is there.
func (f *File) Get(name string, pairs ...string) (float64, bool) {
	v, ok := f.Samples[Series(name, L(pairs...)...)]
	return v, ok
}

// Names returns the metric families in f, sorted.
func (f *File) Names() []string {
	var out []string
	for n := range f.Types {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
