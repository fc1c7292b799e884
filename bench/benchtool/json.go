package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// jsonCmd prints the value at each dotted path of a JSON object file
// ("end.sum_received.bits_per_second"), numbers exactly as written.
func jsonCmd(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: json FILE PATH [PATH]")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("read %s: %w", args[0], err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("parse %s: %w", args[0], err)
	}
	for _, path := range args[1:] {
		v := doc
		for _, key := range strings.Split(path, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: %s: %q is not inside an object", args[0], path, key)
			}
			if v, ok = obj[key]; !ok {
				return fmt.Errorf("%s: no %s", args[0], path)
			}
		}
		switch v := v.(type) {
		case string:
			fmt.Println(v)
		case json.Number, bool:
			fmt.Println(v)
		default:
			out, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", args[0], path, err)
			}
			fmt.Println(string(out))
		}
	}
	return nil
}
