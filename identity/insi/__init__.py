"""INS qualification: the INSi port, the qualification workflow and its routes."""
