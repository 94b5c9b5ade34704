"""The Kubernetes control plane KubeBench grades against, and its API client.

This room imports nothing else of kubebench except `defaults` and `errors`.
"""
