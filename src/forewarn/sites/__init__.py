"""A site as its page and its playback show it: registry, devices, values against limits, equipment, alarms."""
