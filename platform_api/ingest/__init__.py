"""Machine data besides REST: the MQTT subscriber, the MTConnect poller, the demo publisher."""
