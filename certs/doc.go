// Package certs keeps nobackoff's serving certificate valid without anyone's
// help. In self mode, replicas share one Secret holding a CA and a serving
// certificate for the Service's DNS names: the first replica creates it,
// the others read it, and whoever finds the serving certificate inside its
// renewal window replaces it. Writes use the Secret's resourceVersion, so
// racing replicas end with one CA and one certificate. The CA goes into the
// webhook configuration's caBundle, and the key pair is written to files
// the server reloads without a restart.
package certs
