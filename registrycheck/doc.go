// Package registrycheck answers, before a pod exists, whether its kubelet
// will be able to pull an image: it resolves the image against its
// registry with the credentials the kubelet would use, and classifies the
// outcome into a closed set.
//
// Credential matching follows the kubelet's rules (not those of
// go-containerregistry's Kubernetes keychain): only the pod's pull secrets,
// every matching key tried most specific first, no anonymous retry once
// credentials matched. go-containerregistry is used for transport, HEAD,
// manifests and blobs. Lookups are cached per credential, de-duplicated,
// bounded per registry and held to the caller's deadline.
package registrycheck
