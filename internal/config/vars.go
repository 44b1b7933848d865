package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// variable is one declared variable: how to set its field from a string
// and how to show the field's value.
type variable struct {
	name, def, usage string
	set              func(c *Config, s string) error
	get              func(c *Config) string
}

// typed declares a variable of type T stored in the field that field
// returns, parsed by parse and then checked by each check.
func typed[T any](name, def, usage string, field func(*Config) *T, parse func(string) (T, error), show func(T) string, checks ...func(T) error) variable {
	return variable{
		name: name, def: def, usage: usage,
		set: func(c *Config, s string) error {
			if s == "" {
				var zero T
				*field(c) = zero
				return nil
			}
			v, err := parse(s)
			if err != nil {
				return err
			}
			for _, check := range checks {
				if err := check(v); err != nil {
					return err
				}
			}
			*field(c) = v
			return nil
		},
		get: func(c *Config) string { return show(*field(c)) },
	}
}

func stringVar(name, def, usage string, field func(*Config) *string, checks ...func(string) error) variable {
	return typed(name, def, usage, field, func(s string) (string, error) { return s, nil }, func(s string) string { return s }, checks...)
}

// oneOfVar is a string variable that takes one of values (case-insensitive).
func oneOfVar(name, def, usage string, field func(*Config) *string, values ...string) variable {
	return typed(name, def, usage, field, func(s string) (string, error) {
		if s = strings.ToLower(s); !slices.Contains(values, s) {
			return "", fmt.Errorf("want %s", strings.Join(values, ", "))
		}
		return s, nil
	}, func(s string) string { return s })
}

func intVar(name, def, usage string, field func(*Config) *int, checks ...func(int) error) variable {
	return typed(name, def, usage, field, func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("not an integer")
		}
		return n, nil
	}, strconv.Itoa, checks...)
}

func int64Var(name, def, usage string, field func(*Config) *int64) variable {
	return typed(name, def, usage, field, func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("want a positive integer")
		}
		return n, nil
	}, func(n int64) string { return strconv.FormatInt(n, 10) })
}

func durationVar(name, def, usage string, field func(*Config) *time.Duration) variable {
	return typed(name, def, usage, field, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("not a duration (like 250ms or 30s)")
		}
		if d < 0 {
			return 0, fmt.Errorf("want 0 or more")
		}
		return d, nil
	}, time.Duration.String)
}

func boolVar(name, def, usage string, field func(*Config) *bool) variable {
	return typed(name, def, usage, field, parseBool, strconv.FormatBool)
}

// optBoolVar is a boolean that may be unset (nil).
func optBoolVar(name, def, usage string, field func(*Config) **bool) variable {
	return typed(name, def, usage, field, func(s string) (*bool, error) {
		b, err := parseBool(s)
		return &b, err
	}, func(b *bool) string {
		if b == nil {
			return ""
		}
		return strconv.FormatBool(*b)
	})
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("want true or false (or 1 or 0)")
	}
	return b, nil
}

// atLeast checks a lower bound.
func atLeast(min int) func(int) error {
	return func(n int) error {
		if n < min {
			return fmt.Errorf("want at least %d", min)
		}
		return nil
	}
}
