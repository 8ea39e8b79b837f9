package config

import (
	"os"
	"strings"
)

// EnvPrefix starts the names of the environment variables FromEnvironment reads.
const EnvPrefix = "SMTPKIT_"

// FromEnvironment returns the layer of settings held by the non-empty
// environment variables SMTPKIT_URL (read as ParseURL does) and SMTPKIT_
// followed by a TOML key in upper case, such as SMTPKIT_HOST, which
// override it.
func FromEnvironment() (*Account, error) {
	return fromLookup(os.LookupEnv)
}

// fromLookup does FromEnvironment's work with lookup for os.LookupEnv.
func fromLookup(lookup func(string) (string, bool)) (*Account, error) {
	a := &Account{DefinedAt: Origin{File: "environment"}}
	if raw, ok := lookup(EnvPrefix + "URL"); ok && raw != "" {
		u, err := ParseURL(raw)
		if err != nil {
			return nil, &Error{Origin: Origin{File: "environment", Key: EnvPrefix + "URL"}, Err: err}
		}
		for f := range numFields {
			if o, ok := u.where[f]; ok {
				o.File, o.Key = "environment", EnvPrefix+"URL"
				u.where[f] = o
			}
		}
		u.Password.at = Origin{File: "environment", Key: EnvPrefix + "URL"}
		a.overlay(u)
		a.DefinedAt = Origin{File: "environment"}
	}
	var errs errorList
	by := map[field]string{} // the variable that set each field
	for _, key := range keyNames() {
		name := EnvPrefix + strings.ToUpper(key)
		v, ok := lookup(name)
		if !ok || v == "" {
			continue
		}
		o := Origin{File: "environment", Key: name}
		if prev, ok := by[keys[key].field]; ok {
			errs.add(o, "", "%s is set too, and both say the same thing: unset one", prev)
			continue
		}
		by[keys[key].field] = name
		if err := a.setText(o, key, v); err != nil {
			errs.addErr(err)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return a, nil
}
