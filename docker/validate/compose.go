// -compose: loads a Compose file with compose-go, the library `docker compose` itself loads
// files with, so the checks are Docker's: the Compose Specification's JSON schema (unknown keys
// and wrong types fail), interpolation, and the model's consistency (depends_on, volumes and
// networks must name defined ones). No Docker engine is needed.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// validateCompose loads file strictly and returns a one-line summary of its services.
func validateCompose(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs, Content: data}},
		Environment: types.Mapping{},
	}
	project, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("sluice", true)
		// Keep `build:` contexts as written; nothing is built.
		o.ResolvePaths = false
	})
	if err != nil {
		return "", err
	}
	var names []string
	for name, svc := range project.Services {
		health := "no healthcheck"
		if svc.HealthCheck != nil {
			if svc.HealthCheck.Disable {
				health = "healthcheck disabled"
			} else {
				health = "healthcheck " + strings.Join(svc.HealthCheck.Test, " ")
			}
		}
		names = append(names, fmt.Sprintf("%s (%s)", name, health))
	}
	sort.Strings(names)
	return fmt.Sprintf("%d services: %s", len(names), strings.Join(names, "; ")), nil
}
