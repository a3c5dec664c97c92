public enum EventStorePlaceholder {}
