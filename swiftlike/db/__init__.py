"""What container and account databases share: broker, listing, server base."""
