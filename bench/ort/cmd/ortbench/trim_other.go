//go:build !linux

package main

func releaseFreeMemory() {}
