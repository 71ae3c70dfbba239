package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store/datatables"
)

// Where a setting's value came from, as `steward config show` prints it.
const (
	sourceFlag    = "flag"
	sourceEnv     = "env"
	sourceFile    = "file"
	sourceDefault = "default"
)

// secretKeys are the settings that are never flags (they would show in ps)
// but may be written in the file; `config show` masks them.
var secretKeys = []string{"bootstrap_password", "secret_key", "secret_key_previous"}

// notFileKeys are root flags that are not settings.
var notFileKeys = map[string]bool{"config": true, "help": true, "version": true}

// bindConfigFile registers --config (STEWARD_CONFIG).
func bindConfigFile(cmd *cobra.Command, getenv func(string) string, c *config) {
	cmd.PersistentFlags().StringVar(&c.ConfigFile, "config", getenv("STEWARD_CONFIG"),
		"TOML file with settings and the plan catalogue; a flag or variable wins over it (STEWARD_CONFIG)")
}

// envName is the variable behind a flag or secret: STEWARD_ and its name
// in upper case with '_' for '-'.
func envName(name string) string {
	return "STEWARD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// fileKeyOf names the settings whose key is not their variable's name: the
// file holds the catalogues themselves as [[plans]] (and, later,
// [[trusted_issuers]]), so the paths of the JSON files take a _file suffix.
var fileKeyOf = map[string]string{"plans": "plans_file", "trusted-issuers": "trusted_issuers_file"}

// fileKey is a flag's key in the file: its name with '_' for '-'.
func fileKey(flag string) string {
	if k, ok := fileKeyOf[flag]; ok {
		return k
	}
	return strings.ReplaceAll(flag, "-", "_")
}

// fileDuration is a duration written as a string ("15m"); decoding it here
// lets a bad one be reported with its line.
type fileDuration struct{ d time.Duration }

func (f *fileDuration) UnmarshalText(b []byte) error {
	d, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"15m\"")
	}
	f.d = d
	return nil
}

// fileSchema is the Go type the file decodes into, built from the root's
// flags so that every setting, including one added later, has its key and
// type without a second list to keep in step. Unknown keys and wrong types
// are then the decoder's to report, with their positions.
type fileSchema struct {
	typ   reflect.Type
	keys  []string          // field i's key
	kinds map[string]string // key → pflag type, or "secret"
}

func newFileSchema(flags *pflag.FlagSet) fileSchema {
	s := fileSchema{kinds: map[string]string{}}
	var fields []reflect.StructField
	add := func(key, kind string, t reflect.Type) {
		fields = append(fields, reflect.StructField{Name: "F" + strconv.Itoa(len(fields)), Type: t,
			Tag: reflect.StructTag(`toml:"` + key + `"`)})
		s.keys = append(s.keys, key)
		s.kinds[key] = kind
	}
	flags.VisitAll(func(f *pflag.Flag) {
		if notFileKeys[f.Name] {
			return
		}
		kind := f.Value.Type()
		add(fileKey(f.Name), kind, reflect.PointerTo(fileGoType(kind)))
	})
	for _, k := range secretKeys {
		add(k, "secret", reflect.TypeFor[*string]())
	}
	fields = append(fields, reflect.StructField{Name: "Plans", Type: reflect.SliceOf(tomlCopy(reflect.TypeFor[steward.Plan]())),
		Tag: `toml:"plans"`}, reflect.StructField{Name: "TrustedIssuers",
		Type: reflect.SliceOf(tomlCopy(reflect.TypeFor[service.TrustedIssuer]())), Tag: `toml:"trusted_issuers"`},
		reflect.StructField{Name: "Flags", Type: reflect.SliceOf(tomlCopy(reflect.TypeFor[steward.Flag]())), Tag: `toml:"flags"`},
		reflect.StructField{Name: "Models", Type: reflect.SliceOf(tomlCopy(reflect.TypeFor[steward.ModelConfig]())), Tag: `toml:"models"`},
		reflect.StructField{Name: "Data", Type: dataType, Tag: `toml:"data"`})
	fields = append(fields, actionsField())
	s.typ = reflect.StructOf(fields)
	return s
}

// fileGoType is the Go type a flag of pflag type kind is decoded as.
func fileGoType(kind string) reflect.Type {
	switch kind {
	case "int":
		return reflect.TypeFor[int64]()
	case "bool":
		return reflect.TypeFor[bool]()
	case "duration":
		return reflect.TypeFor[fileDuration]()
	case "stringSlice":
		return reflect.TypeFor[[]string]()
	}
	return reflect.TypeFor[string]()
}

// kindWant says in words what a key of pflag type kind takes.
func kindWant(kind string) string {
	switch kind {
	case "int":
		return "a whole number"
	case "bool":
		return "true or false"
	case "duration":
		return "a duration string such as \"15m\""
	case "stringSlice":
		return "a list of strings such as [\"a\", \"b\"]"
	}
	return "a string"
}

// tomlCopy is t with each struct field's JSON name as its TOML key too, so
// a plan decodes from the file with the names STEWARD_PLANS uses, and an
// unknown field is refused with its position.
func tomlCopy(t reflect.Type) reflect.Type {
	switch t.Kind() {
	case reflect.Pointer:
		return reflect.PointerTo(tomlCopy(t.Elem()))
	case reflect.Slice:
		return reflect.SliceOf(tomlCopy(t.Elem()))
	case reflect.Struct:
		var fields []reflect.StructField
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			f.Type = tomlCopy(f.Type)
			f.Tag = reflect.StructTag(`toml:"` + name + `" json:"` + name + `"`)
			f.Offset, f.Index = 0, nil
			fields = append(fields, f)
		}
		return reflect.StructOf(fields)
	}
	return t
}

// configFile is a decoded file: the settings it holds and its catalogues.
type configFile struct {
	path    string
	values  map[string]reflect.Value // key → the decoded value, for keys present
	plans   []*steward.Plan
	issuers []service.TrustedIssuer
	flags   []*steward.Flag
	models  []*steward.Model
	data    datatables.Config // [data] (configdata.go)
	actions *fileActions
}

var mismatchRe = regexp.MustCompile(`cannot decode TOML (\w+) into .* of type (.+)$`)

// readConfigFile decodes path against the schema. Every error names the
// file, the line and column, and the key.
func readConfigFile(path string, s fileSchema) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	v := reflect.New(s.typ)
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v.Interface()); err != nil {
		return nil, fileError(path, s, err)
	}
	cf := &configFile{path: path, values: map[string]reflect.Value{}}
	for i, key := range s.keys {
		if f := v.Elem().Field(i); !f.IsNil() {
			cf.values[key] = f.Elem()
		}
	}
	if plans := v.Elem().FieldByName("Plans"); plans.Len() > 0 {
		// The TOML-tagged copy carries the JSON names: one parser, one set
		// of rules and defaults for both places a plan may be written.
		doc, err := json.Marshal(map[string]any{"plans": plans.Interface()})
		if err != nil {
			return nil, fmt.Errorf("%s: plans: %w", path, err)
		}
		if cf.plans, err = steward.ParsePlans(doc); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if iss := v.Elem().FieldByName("TrustedIssuers"); iss.Len() > 0 {
		doc, err := json.Marshal(iss.Interface())
		if err != nil {
			return nil, fmt.Errorf("%s: trusted_issuers: %w", path, err)
		}
		if cf.issuers, err = service.ParseTrustedIssuers(doc); err != nil {
			return nil, fmt.Errorf("%s: trusted_issuers: %w", path, err)
		}
	}
	if flags := v.Elem().FieldByName("Flags"); flags.Len() > 0 {
		if cf.flags, err = parseFileFlags(flags.Interface()); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if models := v.Elem().FieldByName("Models"); models.Len() > 0 {
		if cf.models, err = parseFileModels(models.Interface()); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if d := v.Elem().FieldByName("Data"); !d.IsNil() {
		if cf.data, err = parseFileData(path, data, d.Elem().Interface()); err != nil {
			return nil, err
		}
	}
	cf.actions = readFileActions(path, v.Elem(), data)
	return cf, nil
}

// fileError turns the decoder's error into "file:line:col: key k: what".
func fileError(path string, s fileSchema, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for i := range strict.Errors {
			errs = append(errs, positioned(path, s, &strict.Errors[i], "unknown key"))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		return positioned(path, s, de, "")
	}
	return fmt.Errorf("%s: %w", path, err)
}

func positioned(path string, s fileSchema, de *toml.DecodeError, what string) error {
	row, col := de.Position()
	key := strings.Join(de.Key(), ".")
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	switch {
	case what != "":
	case msg == "unknown field" || msg == "missing table":
		what = "unknown key"
	case mismatchRe.MatchString(msg):
		if kind, ok := s.kinds[key]; ok {
			what = "want " + kindWant(kind)
		} else {
			m := mismatchRe.FindStringSubmatch(msg)
			what = "a TOML " + m[1] + " where " + m[2] + " is wanted"
		}
	default:
		what = msg
	}
	if key == "" {
		return fmt.Errorf("%s:%d:%d: %s", path, row, col, what)
	}
	return fmt.Errorf("%s:%d:%d: key %s: %s", path, row, col, key, what)
}

// loadConfigFile reads the file --config names, if any, and applies it
// beneath the flags and variables: a setting comes from the command line
// if given there, else from its variable, else from the file, else its
// default. It records every setting's source for `config show`.
func (c *config) loadConfigFile(root *cobra.Command, getenv func(string) string) error {
	flags := root.PersistentFlags()
	s := newFileSchema(flags)
	var cf *configFile
	if c.ConfigFile != "" {
		var err error
		if cf, err = readConfigFile(c.ConfigFile, s); err != nil {
			return err
		}
		c.filePlans, c.fileIssuers, c.fileFlagDefs = cf.plans, cf.issuers, cf.flags
		c.fileModels, c.fileData = cf.models, cf.data
		c.fileActions = cf.actions.withEnv(getenv)
	}
	c.sources, c.fileFlags = map[string]string{}, nil
	var errs []error
	flags.VisitAll(func(f *pflag.Flag) {
		if notFileKeys[f.Name] {
			return
		}
		key := fileKey(f.Name)
		switch {
		case f.Changed:
			c.sources[key] = sourceFlag
		case getenv(envName(f.Name)) != "":
			c.sources[key] = sourceEnv
		case cf != nil && cf.values[key].IsValid():
			c.sources[key] = sourceFile
			c.fileFlags = append(c.fileFlags, f.Name)
			if err := setFlag(f, cf.values[key]); err != nil {
				errs = append(errs, fmt.Errorf("%s: key %s: %w", c.ConfigFile, key, err))
			}
		default:
			c.sources[key] = sourceDefault
		}
	})
	secrets := map[string]*string{"bootstrap_password": &c.BootstrapPassword,
		"secret_key": &c.secretKeyRaw, "secret_key_previous": &c.secretKeyPreviousRaw}
	for _, key := range secretKeys {
		switch {
		case getenv(envName(key)) != "":
			c.sources[key] = sourceEnv
		case cf != nil && cf.values[key].IsValid():
			c.sources[key] = sourceFile
			*secrets[key] = cf.values[key].String()
		default:
			c.sources[key] = sourceDefault
		}
	}
	return errors.Join(errs...)
}

// setFlag gives f the file's value, as if typed on the command line.
func setFlag(f *pflag.Flag, v reflect.Value) error {
	switch x := v.Interface().(type) {
	case []string:
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return sv.Replace(x)
		}
		return f.Value.Set(strings.Join(x, ","))
	case fileDuration:
		return f.Value.Set(x.d.String())
	case int64:
		return f.Value.Set(strconv.FormatInt(x, 10))
	case bool:
		return f.Value.Set(strconv.FormatBool(x))
	case string:
		return f.Value.Set(x)
	}
	return fmt.Errorf("unsupported type %s", v.Type())
}

// mergePlans joins the file's plans and the STEWARD_PLANS file's; a plan
// written in both is an error naming it.
func mergePlans(fromFile, fromJSON []*steward.Plan, file, jsonFile string) ([]*steward.Plan, error) {
	if len(fromFile) == 0 {
		return fromJSON, nil
	}
	if len(fromJSON) == 0 {
		return fromFile, nil
	}
	seen := map[string]bool{}
	for _, p := range fromFile {
		seen[p.ID] = true
	}
	for _, p := range fromJSON {
		if seen[p.ID] {
			return nil, fmt.Errorf("plan %q is in both %s and %s: write it in one", p.ID, file, jsonFile)
		}
	}
	all := append(append([]*steward.Plan{}, fromFile...), fromJSON...)
	return all, steward.ValidatePlans(all)
}

// mergeIssuers joins the file's trusted issuers and the
// STEWARD_TRUSTED_ISSUERS file's; an issuer listed in both is an error
// naming it.
func mergeIssuers(fromFile, fromJSON []service.TrustedIssuer, file, jsonFile string) ([]service.TrustedIssuer, error) {
	seen := map[string]bool{}
	for _, ti := range fromFile {
		seen[ti.Issuer] = true
	}
	for _, ti := range fromJSON {
		if seen[ti.Issuer] {
			return nil, fmt.Errorf("trusted issuer %q is in both %s and %s: list it in one", ti.Issuer, file, jsonFile)
		}
	}
	return append(append([]service.TrustedIssuer{}, fromFile...), fromJSON...), nil
}

// fileSource adds to a setting's error, which names its flag, the file and
// key the value came from, when it came from the file.
func (c *config) fileSource(err error) error {
	if err == nil {
		return nil
	}
	for _, name := range c.fileFlags {
		if strings.Contains(err.Error(), "--"+name+" ") {
			return fmt.Errorf("%w (key %s in %s)", err, fileKey(name), c.ConfigFile)
		}
	}
	return err
}
