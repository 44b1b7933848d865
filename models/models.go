// Package models embeds the default model's manifest and the ImageNet class
// names, so the binary alone knows its default model.
package models

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

//go:embed manifest.json
var manifestJSON []byte

//go:embed imagenet_classes.txt
var imagenetClasses []byte

// Manifest describes a model file and how to feed it.
type Manifest struct {
	Name       string     `json:"name"`
	File       string     `json:"file"`
	URL        string     `json:"url"`
	Size       int64      `json:"size"`
	SHA256     string     `json:"sha256"`
	InputSize  int        `json:"input_size"`
	ResizeSize int        `json:"resize_size"`
	Mean       [3]float32 `json:"mean"`
	Std        [3]float32 `json:"std"`
}

// Default returns the manifest of the default model, resnet50-v1-12.
func Default() Manifest {
	var m Manifest
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		panic(fmt.Sprintf("models: embedded manifest: %v", err)) // build-time data, covered by tests
	}
	return m
}

// ImageNetLabels returns the 1000 ImageNet-1k class names in model output order.
func ImageNetLabels() []string {
	labels, err := ReadLabels(bytes.NewReader(imagenetClasses))
	if err != nil {
		panic(fmt.Sprintf("models: embedded labels: %v", err))
	}
	return labels
}

// ReadLabels reads one class name per line; blank trailing lines are ignored.
func ReadLabels(r io.Reader) ([]string, error) {
	var labels []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		labels = append(labels, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	for len(labels) > 0 && labels[len(labels)-1] == "" {
		labels = labels[:len(labels)-1]
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("read labels: no class names")
	}
	return labels, nil
}
